"""Monitoring: a drift report per quarter, WARN checks on it, and the batch predictions it reads.

`drift_report[q]` answers, for each new quarter: has the input changed, has the model got worse, should we
retrain? Samples: ten sectors give ten feature rows a quarter, too few for a KS test, so the current sample is
the `WINDOW_QUARTERS` quarters up to and including q (40 rows), and the reference is the current champion's
own training rows (read from its registered MLflow model) from the quarters before that window. The report is
stored three ways: the asset value (JSON-able dict), `<store>/monitoring/drift_report/<quarter>.json|html`
(the HTML is self-contained), and the same two files as artefacts of the champion's MLflow run.

The checks report the newest quarter of the run with WARN severity: they colour the asset in the UI and never
stop the pipeline. A raised `retrain` flag is acted on by `sensors/retrain.py`.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from mlflow.entities import Metric
from mlflow.pyfunc import load_model
from pydantic import Field

from sector_forecast import monitoring_report as mr
from sector_forecast import tracking
from sector_forecast.assets.predictions import (
    MONITORING_GROUP,
    batch_predictions,
    champion_version_info,
    prediction_log_path,
    read_prediction_log,
    store_root,
)
from sector_forecast.domain import drift
from sector_forecast.domain.features import FEATURE_COLUMNS
from sector_forecast.domain.periods import quarter_offset, quarter_range
from sector_forecast.io_manager import ParquetIOManager, atomic_write
from sector_forecast.partitions import origin_partitions, quarter_key_to_label, quarter_label_to_key
from sector_forecast.resources import MlflowResource
from sector_forecast.ui import markdown_table

WINDOW_QUARTERS = 4
DATA_DRIFT_CHECK = "data_drift"
PERFORMANCE_CHECK = "performance_degradation"
_WINDOW = dg.TimeWindowPartitionMapping(start_offset=-(WINDOW_QUARTERS - 1), allow_nonexistent_upstream_partitions=True)


class DriftConfig(dg.Config):
    p_threshold: float = Field(default=0.15, description="A feature drifts when its KS p-value is below this.")
    share_threshold: float = Field(default=0.3, description="Dataset drift when at least this share drifted.")
    min_samples: int = Field(default=8, description="Fewer values than this on a side: feature not tested.")
    degradation_margin: float = Field(
        default=0.2, description="Retrain when the realised MAE exceeds the backtest MAE by more than this share.")
    plot_quarters: int = Field(
        default=4, description="Draw the plots for the newest N quarters of a run (0 = every quarter). Plots cost "
        "~2 s a quarter, so a cold backfill of every quarter draws only the recent ones; the others keep their "
        "tables, JSON and HTML, and get plots when materialised on their own.")


def report_dir(root: Path) -> Path:
    return root / "monitoring" / "drift_report"


def _champion(mlflow_res: MlflowResource, champion_model: dict) -> tuple[dict | None, Any]:
    """Registry facts and the unwrapped pyfunc (fitted model, training features) of the current champion."""
    version = champion_model.get("champion_version")
    if not version:
        return None, None
    info = champion_version_info(mlflow_res, str(version))
    return info, load_model(info["uri"]).unwrap_python_model()


def _latest_per_key(log: pd.DataFrame, origins: list[str]) -> pd.DataFrame:
    rows = log[log["origin"].isin(origins)].sort_values("predicted_at", kind="mergesort")
    return rows.drop_duplicates(["origin", "sector"], keep="last")


def build_report(
    quarter: str, feature_frame: dict[str, pd.DataFrame], champ: dict | None, model: Any,
    log: pd.DataFrame, backtest: pd.DataFrame, baselines: dict[str, float], config: DriftConfig,
) -> mr.DriftReport:
    """Gather the samples for one quarter and run the domain statistics on them."""
    window = quarter_range(quarter_offset(quarter, -(WINDOW_QUARTERS - 1)), quarter)
    frames = [feature_frame[k] for k in map(quarter_label_to_key, window) if k in feature_frame]
    current = pd.concat(frames, ignore_index=True)
    columns = drift.monitored_features(FEATURE_COLUMNS)
    if model is not None:
        reference = drift.reference_rows(model.features, tuple(model.fitted.train_quarters), before=window[0])
        ref_preds = model.fitted.predict(reference)["prediction"].to_numpy() if len(reference) else np.array([])
        span = f"{reference['quarter'].min()}..{reference['quarter'].max()}" if len(reference) else "empty"
    else:
        reference, ref_preds, span = current.iloc[0:0], np.array([]), "none: no champion registered"
    features = drift.feature_drift(reference, current, columns, p_threshold=config.p_threshold,
                                   share_threshold=config.share_threshold, min_samples=config.min_samples)
    logged = _latest_per_key(log, window)
    cur_preds = logged["prediction"].to_numpy(dtype=float)
    prediction = drift.prediction_shift(ref_preds, cur_preds)
    versions = ", ".join(sorted(logged["model_version"].astype(str).unique())) or "none"
    prediction["note"] = (f"reference: the champion's forecasts on its training rows; current: the logged "
                          f"forecasts made at origins {window[0]}..{window[-1]} (model version {versions})")
    replay = backtest[(backtest["model"] == (champ or {}).get("model")) & (backtest["target_quarter"] == quarter)]
    actuals = feature_frame[quarter_label_to_key(quarter)]
    realised = drift.realised_error(quarter, actuals, log, replay, baselines, margin=config.degradation_margin,
                                    current_version=(champ or {}).get("version"))
    thresholds = {"p_threshold": config.p_threshold, "share_threshold": config.share_threshold,
                  "min_samples": config.min_samples, "margin": config.degradation_margin}
    return mr.DriftReport(quarter, window, champ, span, features, prediction, realised, thresholds,
                          reference=reference, current=current, reference_predictions=ref_preds,
                          current_predictions=cur_preds)


METRIC_KEYS = ("monitoring_share_drifted", "monitoring_realised_mae", "monitoring_prediction_mean_shift")


class MlflowReportLogger:
    """Report files as artefacts of the champion's run; headline numbers as metrics stepped by quarter.

    Artefacts are overwritten on a re-run, and a (step, value) already in a metric's history is not logged
    again, so re-running a quarter does not grow the history. Histories are read once and new metrics
    written in one batch per run, which keeps a 23-quarter run to a handful of tracking-store calls.
    """

    def __init__(self, mlflow_res: MlflowResource, run_id: str) -> None:
        self.client, self.run_id = tracking.client_for(mlflow_res.uri), run_id
        self.seen = {k: {(m.step, round(m.value, 12)) for m in self.client.get_metric_history(run_id, k)}
                     for k in METRIC_KEYS}
        self.pending: list[Metric] = []

    def add(self, report: mr.DriftReport, files: dict[str, Path]) -> None:
        for name, path in files.items():
            self.client.log_text(self.run_id, path.read_text(), f"monitoring/drift_report_{report.quarter}.{name}")
        step = int(report.quarter[:4]) * 4 + int(report.quarter[5]) - 1
        values = (report.features.share_drifted, report.realised.mae, report.prediction.get("mean_shift"))
        now = int(time.time() * 1000)
        for key, value in zip(METRIC_KEYS, values, strict=True):
            if value is not None and np.isfinite(value) and (step, round(float(value), 12)) not in self.seen[key]:
                self.pending.append(Metric(key, float(value), now, step))

    def flush(self) -> None:
        if self.pending:
            self.client.log_batch(self.run_id, metrics=self.pending)
            self.pending = []


def judged_forecast(realised: drift.RealisedError) -> str:
    """`<quarter>@v<version>`: which served forecast a retrain flag is about (the sensor acts once per key)."""
    return f"{realised.quarter}@v{realised.model_version}" if realised.model_version else f"{realised.quarter}@-"


_PLOTS = {"feature_drift": "Feature drift", "distributions": "Reference vs current", "predictions": "Predictions"}
NO_PLOTS = ("Plots are drawn for the newest quarters of a bulk run only: materialise this quarter on its own "
            "(or set `plot_quarters: 0`) to draw them.")


def _plots(images: dict[str, str]) -> dict[str, Any]:
    if not images:
        return {"plots": dg.MetadataValue.md(NO_PLOTS)}
    return {f"{name}_plot": dg.MetadataValue.md(mr.image_markdown(title, images[name]))
            for name, title in _PLOTS.items()}


def partition_metadata(report: mr.DriftReport, images: dict[str, str], files: dict[str, Path]) -> dict[str, Any]:
    r = report.realised
    drifted = report.features.table.loc[report.features.table["drifted"], "column"].tolist()
    return {
        "report": dg.MetadataValue.md(mr.summary_markdown(report)),
        **_plots(images),
        "data_drift": dg.MetadataValue.bool(report.data_drift),
        "share_drifted": dg.MetadataValue.float(float(report.features.share_drifted)),
        "drifted_features": dg.MetadataValue.text(", ".join(drifted) or "none"),
        "prediction_mean_shift": dg.MetadataValue.float(float(report.prediction["mean_shift"])),
        "realised_mae": dg.MetadataValue.float(float(r.mae)),
        "realised_vs_backtest": dg.MetadataValue.float(float(r.ratio)),
        "realised_source": dg.MetadataValue.text(r.source),
        "retrain": dg.MetadataValue.bool(report.retrain),
        "retrain_reason": dg.MetadataValue.text(r.note),
        "judged_forecast": dg.MetadataValue.text(judged_forecast(r)),
        "champion_version": dg.MetadataValue.text(str((report.champion or {}).get("version", "none"))),
        "report_html": dg.MetadataValue.path(str(files["html"])),
        "report_json": dg.MetadataValue.path(str(files["json"])),
    }


def _check(
    name: str, newest: mr.DriftReport, flagged: list[str], passed: bool, description: str
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name, asset_key="drift_report", passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"quarter": dg.MetadataValue.text(newest.quarter),
                  "flagged_quarters_in_run": dg.MetadataValue.text(", ".join(flagged) or "none")},
    )


@dg.asset(
    description=(
        f"Per quarter q: feature drift of the {WINDOW_QUARTERS} quarters up to q (40 rows; one quarter's 10 rows "
        "are too few) against the current champion's training rows before them — KS statistic and p-value and "
        "PSI per feature, the share of drifted features and a dataset flag; the shift of the logged forecasts; "
        "and, once q's score is published, the realised MAE of the forecast served for q against the model's "
        "backtest MAE, with a retrain flag. Markdown, plots, JSON and a self-contained HTML file; logged to the "
        "champion's MLflow run."
    ),
    group_name=MONITORING_GROUP,
    partitions_def=origin_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="parquet_io_manager",
    kinds={"mlflow", "scipy"},
    ins={
        "feature_frame": dg.AssetIn(partition_mapping=_WINDOW, metadata={"allow_missing_partitions": True}),
        "champion_model": dg.AssetIn(),
        "backtest_leaderboard": dg.AssetIn(),
    },
    deps=[dg.AssetDep(batch_predictions, partition_mapping=_WINDOW)],
    check_specs=[
        dg.AssetCheckSpec(DATA_DRIFT_CHECK, asset="drift_report",
                          description="WARN when the newest quarter's features drifted from the champion's "
                          "training data."),
        dg.AssetCheckSpec(PERFORMANCE_CHECK, asset="drift_report",
                          description="WARN when the forecast served for the newest quarter missed by more than the "
                          "margin over its backtest error (the retrain flag)."),
    ],
    code_version="1",
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    feature_frame: dict[str, pd.DataFrame],
    champion_model: dict,
    backtest_leaderboard: dict,
    mlflow: MlflowResource,
    parquet_io_manager: dg.ResourceParam[ParquetIOManager],
) -> Iterator:
    root = store_root(parquet_io_manager, context.instance)
    champ, model = _champion(mlflow, champion_model)
    log = read_prediction_log(prediction_log_path(root))
    baselines: dict[str, float] = {"replay": champ["backtest_mae"]} if champ else {}
    for version in log["model_version"].astype(str).unique():
        baselines[version] = champion_version_info(mlflow, version)["backtest_mae"]
    mlflow_log = MlflowReportLogger(mlflow, champ["run_id"]) if champ else None
    reports: dict[str, mr.DriftReport] = {}
    keys = list(context.partition_keys)
    drawn = set(keys if config.plot_quarters <= 0 else keys[-config.plot_quarters:])
    for key in keys:
        quarter = quarter_key_to_label(key)
        if key not in feature_frame:
            raise dg.Failure(f"drift_report {quarter}: feature_frame is not materialised for {quarter}")
        report = build_report(quarter, feature_frame, champ, model, log, backtest_leaderboard["predictions"],
                              baselines, config)
        images = mr.figures(report) if key in drawn else {}
        files = {"json": report_dir(root) / f"{quarter}.json", "html": report_dir(root) / f"{quarter}.html"}
        payload = report.to_dict()
        atomic_write(files["json"], lambda tmp, p=payload: tmp.write_text(json.dumps(p, indent=1)))
        atomic_write(files["html"], lambda tmp, r=report, i=images: tmp.write_text(mr.to_html(r, i)))
        if mlflow_log:
            mlflow_log.add(report, files)
        context.add_asset_metadata(partition_key=key, metadata=partition_metadata(report, images, files))
        context.log.info(report.headline())
        reports[key] = report
    if mlflow_log:
        mlflow_log.flush()
    newest = reports[max(reports)]
    rows = pd.DataFrame([{"quarter": r.quarter, "share_drifted": r.features.share_drifted,
                          "data_drift": r.data_drift, "realised_mae": r.realised.mae, "ratio": r.realised.ratio,
                          "source": r.realised.source, "retrain": r.retrain} for r in reports.values()])
    yield dg.Output({k: r.to_dict() for k, r in reports.items()}, metadata={
        "run_summary": dg.MetadataValue.md(markdown_table(rows, max_rows=100)),
        "reports_dir": dg.MetadataValue.path(str(report_dir(root))),
    })
    drifted = [r.quarter for r in reports.values() if r.data_drift]
    retrain = [r.quarter for r in reports.values() if r.retrain]
    yield _check(DATA_DRIFT_CHECK, newest, drifted, not newest.data_drift, newest.features.summary)
    yield _check(PERFORMANCE_CHECK, newest, retrain, not newest.retrain, newest.realised.note)


MONITORING_ASSETS: list = [batch_predictions, drift_report]
# The WARN checks are specs of `drift_report` itself (one pass computes report and verdicts); none stand alone.
MONITORING_CHECKS: list = []
