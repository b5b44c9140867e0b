"""Declarative automation: every asset below the raw tables re-runs when what it reads changed, and only then.

The raw assets carry no condition: the publication sensor (`sensors/publication.py`) requests exactly the
months and years DST published or revised. Everything downstream carries `REVISION_AWARE_EAGER`, which is
Dagster's `eager()` with three changes, each for a reason this graph has:

- **No `in_latest_time_window()`.** `eager()` only looks at the newest time partition, but DST revises old
  months: a revision of 2026M08 must re-run quarter 2026Q3 even when 2026Q4 exists. Without it, a partition
  runs when one of the upstream partitions it maps to was updated (or it newly went missing).
- **Missing DEMO14 years and KONK4 months do not block.** `eager()` waits while any upstream partition is
  missing. The panel reads DEMO14 twelve quarters back, and DEMO14 year Y appears only in June of Y+2, so
  the latest quarters always map to unpublished years (the panel nowcasts births for them); KONK4 ended in
  2025M12 and only feeds the divergence check. Both edges load with `allow_missing_partitions`, so
  `any_deps_missing` ignores those two assets; every other missing upstream partition still blocks.
- **Blocking checks gate the flow.** `all_deps_blocking_checks_passed()`: a partition whose upstream broke
  its Pandera contract is not rebuilt from it.

Conditions are keyed by group, not by asset module, so assets added later (the monitoring group's
`drift_report`, `batch_predictions`) get the same condition unless they declare their own.
"""

from collections.abc import Sequence

import dagster as dg

RAW_GROUP = "raw"
AUTOMATION_SENSOR_NAME = "sector_forecast_automation"
OPTIONAL_UPSTREAM = dg.AssetSelection.assets("demo14_raw", "konk4_raw")


def revision_aware_eager() -> dg.AutomationCondition:
    """`eager()` over every partition, not blocked by unpublished DEMO14 years, gated by blocking checks."""
    base = dg.AutomationCondition.eager()
    return (
        base.without(dg.AutomationCondition.in_latest_time_window())
        .with_label(None)
        .replace(
            "any_deps_missing",
            dg.AutomationCondition.any_deps_missing().ignore(OPTIONAL_UPSTREAM),
        )
        & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("eager_with_revisions")


REVISION_AWARE_EAGER = revision_aware_eager()


def condition_for(spec: dg.AssetSpec) -> dg.AutomationCondition | None:
    """Raw tables: none (the publication sensor owns them). Anything else: an own condition, or ours."""
    if spec.group_name == RAW_GROUP:
        return spec.automation_condition
    return spec.automation_condition or REVISION_AWARE_EAGER


def _with_condition(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(automation_condition=condition_for(spec))


def with_automation(assets: Sequence) -> list:
    """Return the assets with their automation conditions attached (see module docstring)."""
    out = []
    for asset in assets:
        if isinstance(asset, dg.AssetsDefinition) and not isinstance(asset, dg.AssetChecksDefinition):
            out.append(asset.map_asset_specs(_with_condition))
        elif isinstance(asset, dg.AssetSpec):
            out.append(_with_condition(asset))
        else:
            out.append(asset)
    return out


AUTOMATION_SENSORS: list[dg.AutomationConditionSensorDefinition] = [
    dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        # Several partitions of one asset in a tick become one asset backfill, which keeps dependency
        # order across partitions definitions and honours the single-run backfill policies.
        emit_backfills=True,
        description="Evaluates every asset's automation condition: carries new and revised raw partitions "
        "to panel, features, fits, leaderboard, champion, forecasts and monitoring.",
    )
]
