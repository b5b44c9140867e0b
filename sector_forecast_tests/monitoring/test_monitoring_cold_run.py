"""What `sector-forecast run` leaves behind (the shared `materialised_graph`): a drift report for every quarter,
checks recorded, a prediction log without duplicates that agrees with the forecasts, and nothing asking to retrain.
"""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd

from sector_forecast.io_manager import read_stored
from sector_forecast.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.sensors.retrain import drift_retrain_sensor
from sector_forecast_tests.conftest import GraphEnv

NEWEST = "2026Q3"  # the bundled snapshot's KONK25 ends at 2026M09


def _origin_keys() -> list[str]:
    return [k for k in origin_partitions.get_partition_keys() if quarter_key_to_label(k) <= NEWEST]


def test_every_quarter_has_a_report_and_files_and_recent_ones_have_plots(materialised_graph: GraphEnv) -> None:
    env = materialised_graph
    assert env.instance.get_materialized_partitions(dg.AssetKey("drift_report")) == set(_origin_keys())
    for key in (_origin_keys()[0], _origin_keys()[-1]):
        quarter = quarter_key_to_label(key)
        record = env.instance.fetch_materializations(
            dg.AssetRecordsFilter(dg.AssetKey("drift_report"), asset_partitions=[key]), limit=1).records[0]
        metadata = record.asset_materialization.metadata
        assert metadata["report"].value.startswith(f"## Drift report {quarter}")
        if key == _origin_keys()[-1]:
            assert "data:image/png;base64," in metadata["feature_drift_plot"].value
        else:  # a cold backfill draws plots for its newest quarters only
            assert "materialise this quarter on its own" in metadata["plots"].value
        assert metadata["retrain"].value is False
        body = json.loads((env.storage / "monitoring" / "drift_report" / f"{quarter}.json").read_text())
        assert body["quarter"] == quarter and body["current"]["rows"] == 40
        html = (env.storage / "monitoring" / "drift_report" / f"{quarter}.html").read_text()
        assert html.startswith("<!DOCTYPE html>")
        if key == _origin_keys()[-1]:
            assert html.count("data:image/png;base64,") == 3
        else:
            assert "Plot not drawn in this bulk run" in html
        assert read_stored(env.storage, "drift_report", key)["quarter"] == quarter


def test_checks_are_recorded_as_warnings_on_the_newest_quarter(materialised_graph: GraphEnv) -> None:
    storage = materialised_graph.instance.event_log_storage
    keys = [dg.AssetCheckKey(dg.AssetKey("drift_report"), n) for n in ("data_drift", "performance_degradation")]
    latest = storage.get_latest_asset_check_execution_by_key(keys)
    for key in keys:
        evaluation = latest[key].event.dagster_event.event_specific_data
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        assert evaluation.metadata["quarter"].value == NEWEST
    # In a cold run every logged forecast comes from a champion trained on its quarter: nothing to judge live.
    assert latest[keys[1]].event.dagster_event.event_specific_data.passed is True


def test_prediction_log_matches_forecasts_and_nothing_asks_to_retrain(materialised_graph: GraphEnv) -> None:
    env = materialised_graph
    log = pd.read_parquet(env.storage / "monitoring" / "prediction_log.parquet")
    assert not log.duplicated(["origin", "model_version", "sector"]).any()
    version = read_stored(env.storage, "champion_model")["champion_version"]
    mine = log[log["model_version"] == version]
    assert sorted(mine["origin"].unique()) == [quarter_key_to_label(k) for k in _origin_keys()]
    forecasts = read_stored(env.storage, "forecasts")
    newest = mine[mine["origin"] == NEWEST].sort_values("sector", ignore_index=True)
    cols = ["sector", "quarter", "prediction", "lower", "upper", "model"]
    pd.testing.assert_frame_equal(newest[cols], forecasts.sort_values("sector", ignore_index=True)[cols])
    with dg.build_sensor_context(instance=env.instance, definitions=env.defs) as context:
        assert not drift_retrain_sensor(context).run_requests
