"""The `monitoring` group: the champion's forecasts into the prediction log, and a drift report per quarter.

`batch_predictions[q]` is the champion model's forecast of quarters q+1..q+4 (horizons 1–4) made at origin q, with
its 80% and 95% intervals calibrated per sector — the row of the real-time backtest (`backtest_leaderboard`),
so each origin's forecast and interval use only what was known at q. No model is re-run here. It is appended
to the prediction log (`storage/prediction_log.py` says why the log is a file of its own). Automation re-logs
only the newest origin when a new champion is registered: the log keeps what each origin's champion served.

`drift_report[q]` asks of each quarter, when its counts arrive: did a sector's share of its bankruptcies move
away from its recent history (data drift), did the level common to all sectors move (common level), and
did the champion's forecast for it (logged at q−1) miss by more than its errors usually do (performance
degradation)? A later champion does not re-judge it (automation.py). The statistics
and their levels are in `domain/drift.py`; this asset gathers the inputs — `quarterly_panel` for q and the
`HISTORY_QUARTERS` quarters before it, the champion's rows of the real-time backtest, the prediction log — and
stores the report three ways: the asset value (a JSON-able dict),
`<store>/monitoring/drift_report/<quarter>.json|html` (the HTML is self-contained), and the same two files as
artefacts of the champion's MLflow run. Its per-sector table passes a blocking Pandera contract before any of
that is written.

`monitor_evaluation` measures the monitors out of sample (`domain/monitoreval.py`): false alarms on panels
simulated from a null model fitted to the counts, and detection on a grid of shifts of the bundled counts
judged with the champion's backtest forecasts; `sector-forecast evaluate` reads its stored value.

The WARN checks report the newest quarter of the run: they colour the asset in the UI and never stop the
pipeline. A raised `retrain` flag is acted on by `sensors/retrain.py`.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from sector_forecast import clock
from sector_forecast.contracts.monitoring import (
    BATCH_PREDICTIONS_SCHEMA,
    MONITOR_EVALUATION_SCHEMA,
    MONITOR_TABLE_SCHEMA,
)
from sector_forecast.defs.checks import checked_output, contract_spec, require_contract
from sector_forecast.defs.drift_metadata import (
    COMMON_LEVEL_CHECK,
    DATA_DRIFT_CHECK,
    PERFORMANCE_CHECK,
    monitor_checks,
    partition_metadata,
    run_summary_metadata,
)
from sector_forecast.defs.io_manager import ParquetIOManager
from sector_forecast.defs.metadata import markdown_table
from sector_forecast.defs.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.defs.resources import MlflowResource
from sector_forecast.domain import drift, monitoreval
from sector_forecast.reports import drift_pages, plots
from sector_forecast.storage.prediction_log import (
    LOG_COLUMNS,
    append_to_prediction_log,
    graded_log,
    origin_forecast,
    performance_by_horizon,
    prediction_log_path,
    read_prediction_log,
)
from sector_forecast.tracking.service import MlflowReportLogger, champion_in_service, champion_name

MONITORING_GROUP = "monitoring"
# Both quarterly assets: one partition per forecast origin, a backfill as one run, values as Parquet.
_PER_ORIGIN = {"group_name": MONITORING_GROUP, "partitions_def": origin_partitions,
               "backfill_policy": dg.BackfillPolicy.single_run(), "io_manager_key": "parquet_io_manager"}
_HISTORY = dg.TimeWindowPartitionMapping(start_offset=-drift.HISTORY_QUARTERS,
                                         allow_nonexistent_upstream_partitions=True)
# drift_report[q] judges the forecast made at q-1 only (end_offset too: the default 0 would also make it read,
# and re-run after, the forecast logged at q itself).
_PREVIOUS = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True)


class DriftConfig(dg.Config):
    data_drift_level: float = Field(
        default=drift.DATA_DRIFT_LEVEL, description="Benjamini–Hochberg level across the eleven data-drift "
        "hypotheses: the chance of a data-drift alarm in a quarter without drift.")
    performance_level: float = Field(
        default=drift.PERFORMANCE_LEVEL, description="Rank p-value at or below which the champion's errors "
        "count as degraded: the chance of a performance alarm in a quarter without degradation.")
    plot_quarters: int = Field(
        default=4, description="Draw the plots for the newest N quarters of a run (0 = every quarter). Plots cost "
        "about a second a quarter, so a cold backfill draws only the recent ones; the others keep their tables, "
        "JSON and HTML, and get plots when materialised on their own.")

    def drawn(self, keys: list[str]) -> set[str]:
        """The partitions of a run whose plots are drawn: the newest `plot_quarters`, or all."""
        return set(keys[-self.plot_quarters:] if self.plot_quarters > 0 else keys)


def _counts(quarterly_panel: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The panel partitions read as one frame of `sector, quarter, bankruptcies`: what the monitors judge."""
    return pd.concat(quarterly_panel.values(), ignore_index=True)[["sector", "quarter", "bankruptcies"]]


def _champion_rows(champion_model: dict, backtest_leaderboard: dict) -> pd.DataFrame:
    """The champion model's rows of the real-time backtest: its forecast at every origin."""
    predictions = backtest_leaderboard["predictions"]
    return predictions[predictions["model"] == champion_name(champion_model)]


def _build_reports(keys: list[str], counts: pd.DataFrame, log: pd.DataFrame, rows: pd.DataFrame,
                   champion: dict | None, config: DriftConfig) -> dict[str, drift_pages.DriftReport]:
    """One report per partition key; a quarter the panel has not materialised fails the run, naming it."""
    published = set(counts["quarter"])
    reports: dict[str, drift_pages.DriftReport] = {}
    for key in keys:
        quarter = quarter_key_to_label(key)
        if quarter not in published:
            raise dg.Failure(f"drift_report {quarter}: quarterly_panel is not materialised for {quarter}")
        reports[key] = drift_pages.build_report(quarter, counts, log, rows, champion, config.data_drift_level,
                                                config.performance_level)
    return reports


@dg.asset(
    description=(
        "The champion's forecasts of the next four quarters' bankruptcies (horizons 1–4) for all ten sectors at "
        "each forecast origin, with "
        "its per-sector calibrated 80% and 95% intervals: the origin's row of the real-time backtest, so it uses "
        "only what was known then. Appended to the prediction log (`<store>/monitoring/prediction_log.parquet`, "
        "keyed by origin and model version; a re-run replaces its own rows) that `drift_report` judges once the "
        "quarter is published."
    ),
    **_PER_ORIGIN,
    kinds={"parquet"},
    ins={"champion_model": dg.AssetIn(), "backtest_leaderboard": dg.AssetIn()},
    check_specs=[contract_spec("batch_predictions", "Pandera contract of the batch predictions: ten sectors per "
                               "origin and horizon, forecast of origin + horizon, nested intervals, +inf bounds "
                               "only uncalibrated.")],
    code_version="3",
)
def batch_predictions(
    context: dg.AssetExecutionContext,
    champion_model: dict,
    backtest_leaderboard: dict,
    parquet_io_manager: dg.ResourceParam[ParquetIOManager],
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    model = champion_name(champion_model)
    version = str(champion_model.get("champion_version") or "none")
    log_path = prediction_log_path(parquet_io_manager.root_for(context.instance))
    now = clock.now().isoformat(timespec="seconds")
    parts: dict[str, pd.DataFrame] = {}
    missing: list[str] = []
    # Every horizon's forecast from the origin (issue 24), so each is graded when its quarter is published.
    by_horizon = backtest_leaderboard.get("predictions_by_horizon", backtest_leaderboard["predictions"])
    for key in context.partition_keys:
        origin = quarter_key_to_label(key)
        rows = origin_forecast(by_horizon, model, origin).assign(
            origin=origin, model_version=version, predicted_at=now, dagster_run_id=context.run.run_id)[LOG_COLUMNS]
        parts[key] = rows
        if rows.empty:
            missing.append(origin)
        context.add_asset_metadata(partition_key=key, metadata={
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "forecast_quarter": dg.MetadataValue.text(str(rows["quarter"].iloc[0]) if len(rows) else "none"),
            "predictions": dg.MetadataValue.md(
                markdown_table(rows.drop(columns=["dagster_run_id", "predicted_at"])) if len(rows) else
                f"The leaderboard has no {model} forecast made at {origin}: its fits for {origin} have not run."),
        })
    frame = pd.concat(parts.values(), ignore_index=True)
    result = yield from require_contract("batch_predictions", frame, BATCH_PREDICTIONS_SCHEMA, list(parts))
    log = append_to_prediction_log(log_path, frame) if len(frame) else read_prediction_log(log_path)
    if missing:
        context.log.warning(f"batch_predictions: no leaderboard forecast of {model} at {', '.join(missing)}")
    context.log.info(f"batch_predictions: {len(parts) - len(missing)} origin(s) of {model} (version {version}); "
                     f"log has {len(log)} rows")
    yield dg.Output(parts, metadata={
        "champion": dg.MetadataValue.text(f"{model} (registered version {version})"),
        "model_version": dg.MetadataValue.text(version),
        "origins_without_forecast": dg.MetadataValue.text(", ".join(missing) or "none"),
        "prediction_log": dg.MetadataValue.path(str(log_path)),
        "prediction_log_rows": dg.MetadataValue.int(len(log)),
        "prediction_log_versions": dg.MetadataValue.text(", ".join(sorted(log["model_version"].astype(str).unique()))),
    })
    yield result


@dg.asset(
    description=(
        "Per quarter q, three monitors with stated false-alarm rates (docs/monitoring.md). Data drift: each "
        "sector's log bankruptcies relative to the other sectors' median against the previous 12 quarters by a "
        "prediction-interval t-test, Benjamini–Hochberg at 5% across the ten. Common level: the median of all "
        "ten by the same test, on its own at 5%. "
        "Performance: the champion's forecast for q (made at q−1) as standardised Pearson residuals, the largest "
        "squared one ranked among every earlier quarter's (alarm at rank p ≤ 5%). A retrain flag when any alarms "
        "on a quarter after the champion's training origin. Markdown, plots, JSON and a self-contained HTML file; "
        "logged to the champion's MLflow run."
    ),
    **_PER_ORIGIN,
    kinds={"mlflow", "scipy"},
    ins={
        "quarterly_panel": dg.AssetIn(partition_mapping=_HISTORY, metadata={"allow_missing_partitions": True}),
        "champion_model": dg.AssetIn(),
        "backtest_leaderboard": dg.AssetIn(),
    },
    deps=[dg.AssetDep(batch_predictions, partition_mapping=_PREVIOUS)],
    check_specs=[
        contract_spec("drift_report", "Pandera contract of the per-sector table: ten sectors a quarter, p-values "
                      "in [0, 1], a sector flagged only where tested."),
        dg.AssetCheckSpec(DATA_DRIFT_CHECK, asset="drift_report",
                          description="WARN when a sector's share of the newest quarter's bankruptcies drifted (BH "
                          "at 5% across the ten sectors): nominal false-alarm rate 5% a quarter."),
        dg.AssetCheckSpec(COMMON_LEVEL_CHECK, asset="drift_report",
                          description="WARN when the newest quarter's common level (the median of the ten sectors' "
                          "log bankruptcies) left its last three years (t-test at 5%): nominal false-alarm rate "
                          "5% a quarter."),
        dg.AssetCheckSpec(PERFORMANCE_CHECK, asset="drift_report",
                          description="WARN when the champion's errors on the newest quarter rank among the worst "
                          "5% of all earlier quarters: nominal false-alarm rate 5% a quarter."),
    ],
    code_version="5",
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    quarterly_panel: dict[str, pd.DataFrame],
    champion_model: dict,
    backtest_leaderboard: dict,
    mlflow: MlflowResource,
    parquet_io_manager: dg.ResourceParam[ParquetIOManager],
) -> Iterator:
    root = parquet_io_manager.root_for(context.instance)
    client = mlflow.get_client()
    champ = champion_in_service(client, mlflow.registered_model_name, champion_model)
    log, counts = read_prediction_log(prediction_log_path(root)), _counts(quarterly_panel)
    # The performance monitor judges the one-quarter-ahead forecast; every horizon's grades are shown beside it.
    reports = _build_reports(context.partition_keys, counts, log[log["horizon"] == 1],
                             _champion_rows(champion_model, backtest_leaderboard), champ, config)
    table = pd.concat([r.sector_table() for r in reports.values()], ignore_index=True)
    contract = yield from require_contract("drift_report", table, MONITOR_TABLE_SCHEMA, list(reports))
    mlflow_log = MlflowReportLogger(client, champ["run_id"]) if champ and champ.get("run_id") else None
    drawn = config.drawn(list(reports))
    for key, report in reports.items():
        images = plots.drift_figures(report) if key in drawn else {}
        files = drift_pages.write_report(report, images, drift_pages.report_dir(root))
        if mlflow_log:
            mlflow_log.add(report, files)
        context.add_asset_metadata(partition_key=key, metadata=partition_metadata(report, images, files))
        context.log.info(report.headline())
    if mlflow_log:
        mlflow_log.flush()
    summary = drift.drift_summary([r.to_dict() for r in reports.values()])
    by_horizon = performance_by_horizon(graded_log(log, counts))
    yield dg.Output({k: r.to_dict() for k, r in reports.items()},
                    metadata=run_summary_metadata(reports, summary, drift_pages.report_dir(root), by_horizon))
    yield contract
    yield from monitor_checks(reports[max(reports)], summary)


@dg.asset(
    description=(
        "The monitors measured out of sample (docs/monitoring.md): each monitor's false-alarm rate on 200 "
        "panels simulated from a stationary null model fitted to the counts, and detection within two quarters "
        "on the bundled counts and the champion's forecasts for every sector (and all at once) × 1.5, 2, 3 × "
        "the month of the quarter the shift starts in, counting only alarms on what was shifted. Seeded."
    ),
    group_name=MONITORING_GROUP,
    ins={"quarterly_panel": dg.AssetIn(partition_mapping=dg.AllPartitionMapping(),
                                       metadata={"allow_missing_partitions": True}),
         "champion_model": dg.AssetIn(), "backtest_leaderboard": dg.AssetIn()},
    io_manager_key="parquet_io_manager",
    kinds={"numpy"},
    check_specs=[contract_spec("monitor_evaluation", "Pandera contract of the detection grid: one row per "
                               "scenario, detected = any monitor, a delay (0 or 1) exactly where detected.")],
    code_version="2",
)
def monitor_evaluation(
    context: dg.AssetExecutionContext, quarterly_panel: dict[str, pd.DataFrame], champion_model: dict,
    backtest_leaderboard: dict,
) -> Iterator:
    first = quarter_key_to_label(origin_partitions.get_first_partition_key())
    rows = _champion_rows(champion_model, backtest_leaderboard)
    try:
        ev = monitoreval.evaluate_monitors(_counts(quarterly_panel), rows, first)
    except ValueError as err:
        raise dg.Failure(str(err)) from None
    figures = drift_pages.evaluation_figures(monitoreval.evaluation_summary(ev.to_value()))
    context.log.info(f"monitor_evaluation: {len(ev.grid)} scenarios; " + ", ".join(
        f"{k} {v:.3f}" for k, v in figures.items()))
    metadata = {name: dg.MetadataValue.md(text) for name, text in drift_pages.evaluation_tables(ev).items()}
    metadata.update({key: dg.MetadataValue.float(value) for key, value in figures.items()})
    yield from checked_output("monitor_evaluation", ev.to_value(), ev.grid, MONITOR_EVALUATION_SCHEMA,
                              {"dagster/row_count": dg.MetadataValue.int(len(ev.grid)), **metadata})


MONITORING_ASSETS: list = [batch_predictions, drift_report, monitor_evaluation]
