"""Each partition shows its own facts, also when one run (a single-run backfill) materialises several.

Dagster copies a run's Output metadata onto every partition's materialisation; `checked_output` records each
partition's own row count, schema and preview, labels run-wide figures `run/…`, and reports the blocking
`contract` check once per partition. Raw KONK25 months over real HTTP from the bundled snapshot.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pandera.pandas as pa
from dagster._core.storage.event_log.base import PartitionKeyFilter

from sector_forecast.contracts import forecasting, inputs, monitoring
from sector_forecast.contracts.inputs import konk_raw_schema
from sector_forecast.defs.checks import default_frame_of
from sector_forecast.defs.metadata import markdown_table, number, rounded, run_metadata
from sector_forecast.storage.values import read_stored
from sector_forecast.tracking.pyfunc import OUTPUT_COLUMNS
from sector_forecast_tests.conftest import GraphEnv
from sector_forecast_tests.statbank_server import ServerHandle

MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01"]
KONK25 = dg.AssetKey("konk25_raw")
CONTRACT = dg.AssetCheckKey(KONK25, "contract")


def _run_range(env: GraphEnv, start: str, end: str):
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    return env.defs.resolve_job_def("konk25_job").execute_in_process(
        instance=env.instance, tags=tags, raise_on_error=False
    )


def _latest_materialization(env: GraphEnv, key: str) -> dg.EventLogRecord:
    [record] = env.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=KONK25, asset_partitions=[key]), limit=1
    ).records
    return record


def _check_history(env: GraphEnv, partition: str | None):
    return env.instance.event_log_storage.get_asset_check_execution_history(
        CONTRACT, limit=10, partition_filter=PartitionKeyFilter(key=partition)
    )


def test_single_run_backfill_records_each_partitions_own_metadata(env: GraphEnv) -> None:
    result = _run_range(env, MONTHS[0], MONTHS[-1])
    assert result.success
    stored = {key: read_stored(env.storage, "konk25_raw", key) for key in MONTHS}
    total = sum(len(frame) for frame in stored.values())
    for key, frame in stored.items():
        period = frame["period"].iloc[0]
        meta = _latest_materialization(env, key).asset_materialization.metadata
        # The partition's own figures, computed from its own rows, not the run's three months.
        assert meta["dagster/row_count"].value == len(frame) < total
        assert meta["suppressed_cells"].value == int(frame["suppressed"].sum())
        assert [c.name for c in meta["dagster/column_schema"].schema.columns] == list(frame.columns)
        # Each column described by its contract (what the UI's column schema shows).
        contract = konk_raw_schema("branche25", [], None).columns
        assert {c.name: c.description for c in meta["dagster/column_schema"].schema.columns} == {
            name: contract[name].description for name in frame.columns}
        preview = meta["preview"].value
        assert period in preview
        assert not any(other in preview for other in ("2024M01", "2024M02", "2024M03") if other != period)
        # Run-wide entries are labelled as the run's, never shown as this partition's figure.
        assert "periods" not in meta and meta["run/periods"].value == "2024M01..2024M03"
        assert meta["run/row_count"].value == total
        assert meta["run/suppressed_cells"].value == sum(int(f["suppressed"].sum()) for f in stored.values())
        assert meta["run/partitions"].value == f"3: {MONTHS[0]}..{MONTHS[-1]}"
        # What holds for every partition of the run (one request, one table state) stays as it is.
        assert meta["source"].value == env.url and "run/source" not in meta
        assert "provenance" in meta and meta["table_latest_period"].value == "2026M09"


def test_contract_check_is_reported_per_partition(env: GraphEnv) -> None:
    result = _run_range(env, MONTHS[0], MONTHS[-1])
    assert result.success
    for key in MONTHS:
        [execution] = _check_history(env, key)
        assert execution.status.value == "SUCCEEDED"  # not left PLANNED (shown as skipped) for the partition
        evaluation = execution.event.asset_check_evaluation
        assert evaluation.partition == key and evaluation.blocking
        assert evaluation.metadata["rows_checked"].value == len(read_stored(env.storage, "konk25_raw", key))
        assert key in evaluation.description and f"{MONTHS[0]}..{MONTHS[-1]}" in evaluation.description
        assert evaluation.target_materialization_data.storage_id == _latest_materialization(env, key).storage_id
    assert _check_history(env, None) == []  # no range-wide result posing as the check of no partition


def test_single_partition_run_keeps_its_metadata_unprefixed(env: GraphEnv) -> None:
    result = _run_range(env, MONTHS[1], MONTHS[1])
    assert result.success
    meta = _latest_materialization(env, MONTHS[1]).asset_materialization.metadata
    assert meta["periods"].value == "2024M02..2024M02"
    assert meta["dagster/row_count"].value == len(read_stored(env.storage, "konk25_raw", MONTHS[1]))
    assert not [k for k in meta if k.startswith("run/")]
    [execution] = _check_history(env, MONTHS[1])
    assert execution.status.value == "SUCCEEDED"


def test_a_bad_month_fails_its_own_check_and_nothing_is_stored(env: GraphEnv, server: ServerHandle) -> None:
    server.revise("KONK25", {"BRANCHE25": "F", "VIRKTYP1": "K02", "Tid": "2024M02"}, -5)
    result = _run_range(env, MONTHS[0], MONTHS[-1])
    assert not result.success
    [failed] = _check_history(env, MONTHS[1])
    assert failed.status.value == "FAILED"
    evaluation = failed.event.asset_check_evaluation
    assert evaluation.partition == MONTHS[1] and evaluation.metadata["failures"].value == 1
    assert "greater_than" in evaluation.description and "2024M02" in evaluation.description
    for key in (MONTHS[0], MONTHS[2]):  # clean rows, but not stored: not reported as passed
        assert [e.status.value for e in _check_history(env, key)] == ["PLANNED"]
    assert not (env.storage / "konk25_raw").exists()


def test_run_metadata_labels_run_wide_entries() -> None:
    meta = {"dagster/row_count": 30, "preview": "…", "quarters": 3, "dagster/column_lineage": "x", "source": "s"}
    assert run_metadata(meta, ["2024-01-01"]) == meta
    labelled = run_metadata(meta, ["2024-01-01", "2024-04-01"], shared={"source"})
    assert labelled["run/row_count"] == 30 and labelled["run/quarters"] == 3
    assert "preview" not in labelled and "quarters" not in labelled and "dagster/row_count" not in labelled
    assert labelled["dagster/column_lineage"] == "x" and labelled["source"] == "s"


def test_default_frame_of_a_fit_is_its_predictions() -> None:
    predictions = pd.DataFrame({"sector": [1, 2]})
    assert default_frame_of(predictions) is predictions
    assert default_frame_of({"model": object(), "predictions": predictions, "features": pd.DataFrame()}) is predictions
    assert default_frame_of({"model": object()}) is None


def test_numbers_are_rounded_for_reading() -> None:
    assert number(4 / 51).value == 0.078  # 0.0784313725490196
    assert number(-5.554772623915915).value == -5.555
    assert number(3.2e-7).value == 3.2e-7  # three decimals would print 0: three significant figures instead
    assert number(0.0034567, digits=4).value == 0.0035  # e.g. the snapshot's real share of KONK25 cells
    assert number(None).value != number(None).value  # NaN
    table = markdown_table(pd.DataFrame({"model": ["glm"], "mase": [0.81312345], "n": [58], "p": [1.234e-5],
                                         "count": [12345.0]}))
    row = table.splitlines()[-1]
    assert "0.813" in row and "0.81312" not in row and "1.23e-05" in row and "12345" in row and "e+04" not in row


def _contract_schemas() -> dict[str, pa.DataFrameSchema]:
    """Every Pandera contract of the package: the schema constants, and the raw tables' built for one month."""
    schemas = {f"{module.__name__}.{name}": value for module in (forecasting, inputs, monitoring)
               for name, value in vars(module).items() if isinstance(value, pa.DataFrameSchema)}
    schemas["konk_raw_schema"] = inputs.konk_raw_schema("branche25", ["A"], "2024M01")
    schemas["demo14_raw_schema"] = inputs.demo14_raw_schema("2024")
    return schemas


def test_every_contract_column_is_described() -> None:
    # The UI's column schema shows these descriptions (`metadata.with_descriptions`): a blank is a column an
    # analyst has to guess. A column the asset writes but its contract leaves out is blank too, as `forecasts`'
    # horizon columns were: add it to the contract (`_note` in contracts/forecasting.py describes without checking).
    schemas = _contract_schemas()
    assert len(schemas) >= 10, sorted(schemas)
    blank = {name: [c for c, col in schema.columns.items() if not (col.description or "").strip()]
             for name, schema in schemas.items()}
    assert not {name: cols for name, cols in blank.items() if cols}
    # `forecasts` is what the registered model serves (with `why`), plus the score: every served column described.
    assert set(OUTPUT_COLUMNS) | {"why"} <= set(forecasting.FORECASTS_SCHEMA.columns)


def test_drift_report_metadata_is_rounded_with_short_keys(tmp_path: Path) -> None:
    from sector_forecast.defs.drift_metadata import monitor_checks, partition_metadata, run_summary_metadata
    from sector_forecast.domain import drift
    from sector_forecast_tests.monitoring.test_monitoring_units import report

    loud, quiet = report(factor=3.0), report()
    # Three quarters of one run, one alarmed: false-alarm rates of 1/3, and the loud quarter's p-value 1/23.
    reports = {"2018Q2": quiet, "2018Q3": quiet, "2018Q4": loud}
    summary = drift.drift_summary([{**r.to_dict(), "quarter": q} for q, r in reports.items()], excluded=())
    files = {"html": tmp_path / "r.html", "json": tmp_path / "r.json"}
    by_horizon = pd.DataFrame({"horizon": [1], "mase": [0.81312345]})
    entries = {**partition_metadata(loud, {}, files), **run_summary_metadata(reports, summary, tmp_path, by_horizon)}
    checks = {f"{c.check_name}:{k}": v for c in monitor_checks(loud, summary) for k, v in c.metadata.items()}
    floats = {k: v.value for k, v in {**entries, **checks}.items() if isinstance(v, dg.FloatMetadataValue)}
    assert {"data_drift_min_pvalue", "performance_pvalue", "performance_statistic",
            "run/false_alarm_rate/data_drift", "run/false_alarm_rate/performance"} <= set(floats), sorted(floats)
    assert floats["run/false_alarm_rate/data_drift"] == 0.333 and floats["performance_pvalue"] == 0.043
    assert not {k: v for k, v in floats.items() if v == v and v != rounded(v)}  # v == v: NaN stays NaN
    # Short enough for the UI's key column to keep key and value apart, `run/` included.
    assert max(map(len, entries)) <= 32, sorted(entries, key=len)[-1]
