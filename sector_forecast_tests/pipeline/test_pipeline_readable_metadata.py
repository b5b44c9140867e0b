"""What an analyst reads in the UI after a full run: every column of every column schema described, every
number rounded for reading (issue 23). Scans every materialisation and the latest result of every check.

A new asset column that its contract leaves out shows blank in the UI (as `forecasts`' horizon columns did),
and a `MetadataValue.float` of a raw figure shows 16 digits (as `drift_report`'s did): this names either.
"""

from __future__ import annotations

import math
from typing import Any

import dagster as dg

from sector_forecast.defs.metadata import rounded
from sector_forecast_tests.conftest import GraphEnv

# `metadata.number` rounds to 3 decimals; shares of cells take 4 (`digits=4`: 0.0008 of KONK25 is real).
MAX_DIGITS = 4


def test_every_column_is_described_and_every_number_rounded(materialised_graph: GraphEnv) -> None:
    env = materialised_graph
    graph = env.defs.resolve_asset_graph()
    blank: set[tuple[str, str]] = set()
    unrounded: dict[tuple[str, str], float] = {}

    def read(where: str, metadata: dict[str, Any]) -> None:
        for key, value in metadata.items():
            if isinstance(value, dg.TableSchemaMetadataValue):
                blank.update((where, c.name) for c in value.schema.columns if not (c.description or "").strip())
            elif (isinstance(value, dg.FloatMetadataValue) and value.value is not None and math.isfinite(value.value)
                  and value.value != rounded(value.value, MAX_DIGITS)):
                unrounded.setdefault((where, key), value.value)

    seen = 0
    for asset in graph.get_all_asset_keys():
        for record in env.instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset), limit=10_000).records:
            read(asset.to_user_string(), record.asset_materialization.metadata)
            seen += 1
    latest = env.instance.event_log_storage.get_latest_asset_check_execution_by_key(list(graph.asset_check_keys))
    for check, execution in latest.items():
        if execution.event is not None and execution.event.dagster_event is not None:
            read(check.to_user_string(), execution.event.dagster_event.event_specific_data.metadata)
    assert seen > 100 and latest, (seen, len(latest))
    assert not sorted(blank), "columns shown without a description (describe them in the asset's contract)"
    assert not unrounded, "figures shown unrounded (use defs.metadata.number)"
