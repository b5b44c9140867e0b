"""Declarative automation: which condition each asset carries (filled in by the automation work)."""

import dagster as dg


def with_automation(assets: list) -> list:
    """Return the assets with their automation conditions attached (none yet)."""
    return assets


AUTOMATION_SENSORS: list[dg.AutomationConditionSensorDefinition] = []
