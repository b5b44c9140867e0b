"""Batch predictions: the champion scores all ten sectors at every forecast origin, into the prediction log.

`batch_predictions[q]` asks the registered champion (`sector-vitality/<version>`, the version the promotion
gate reports) for quarter q+1 from the feature rows of quarter q — the same request the `forecasts` asset
makes for the newest quarter, so both give the same numbers for the same quarter and version.

Why the prediction log is its own Parquet file (`<store>/monitoring/prediction_log.parquet`, beside the IO
manager's files under the Dagster instance storage) and not just this asset's partition output: a partition
is overwritten when it is re-materialised, so the forecast an *earlier* model version served for a quarter
would be lost exactly when monitoring needs it — the realised error of a quarter must be measured on the
forecast made before its score was known. The log is keyed by (origin, model version): re-running a quarter
with the same version replaces its rows (idempotent, no duplicates), a new version adds rows beside the old
ones, and every row carries `predicted_at`. It is rewritten atomically under a file lock, so concurrent runs
of different quarters never lose each other's rows. The partition output holds the rows this run scored.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from mlflow.pyfunc import load_model

from sector_forecast import tracking
from sector_forecast.domain.features import FEATURE_COLUMNS
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.io_manager import ParquetIOManager, atomic_write
from sector_forecast.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.resources import MlflowResource
from sector_forecast.serving import OUTPUT_COLUMNS
from sector_forecast.ui import markdown_table

MONITORING_GROUP = "monitoring"
LOG_COLUMNS: list[str] = [
    "origin", *OUTPUT_COLUMNS, "model_version", "predicted_at", "dagster_run_id",
]
LOG_KEY: list[str] = ["origin", "model_version"]


def store_root(io_manager: ParquetIOManager, instance: dg.DagsterInstance) -> Path:
    """Where the IO manager keeps assets: its `base_dir`, else the instance's storage directory."""
    return Path(io_manager.base_dir) if io_manager.base_dir else Path(instance.storage_directory())


def prediction_log_path(root: Path) -> Path:
    return root / "monitoring" / "prediction_log.parquet"


def empty_log() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("prediction", "lower", "upper") else "object")
                         for c in LOG_COLUMNS}).astype({"sector": "int64"})


def read_prediction_log(path: Path) -> pd.DataFrame:
    """The whole log (empty, with its columns, before the first batch prediction)."""
    return pd.read_parquet(path) if path.exists() else empty_log()


def merge_prediction_log(existing: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Replace the rows of every (origin, model version) in ``new``, keep everything else, sort."""
    if len(existing):
        replaced = pd.MultiIndex.from_frame(existing[LOG_KEY].astype(str)).isin(
            pd.MultiIndex.from_frame(new[LOG_KEY].astype(str)))
        existing = existing[~replaced]
    frames = [f for f in (existing[LOG_COLUMNS], new[LOG_COLUMNS]) if len(f)]
    merged = pd.concat(frames, ignore_index=True) if frames else empty_log()
    return merged.sort_values(["origin", "model_version", "sector"], ignore_index=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_to_prediction_log(path: Path, new: pd.DataFrame) -> pd.DataFrame:
    """Merge ``new`` into the log under an exclusive lock and rewrite it atomically; return the log."""
    with _locked(path):
        merged = merge_prediction_log(read_prediction_log(path), new)
        atomic_write(path, lambda tmp: merged.to_parquet(tmp, index=False))
    return merged


def champion_version_info(mlflow_res: MlflowResource, version: str) -> dict[str, Any]:
    """Registry facts about one version of the registered model, with its backtest MAE at promotion."""
    client = tracking.client_for(mlflow_res.uri)
    mv = client.get_model_version(mlflow_res.registered_model_name, version)
    metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
    return {"version": str(mv.version), "model": mv.tags.get("model"), "origin": mv.tags.get("origin"),
            "run_id": mv.run_id, "backtest_mae": float(metrics.get("mae", float("nan"))),
            "uri": f"models:/{mlflow_res.registered_model_name}/{mv.version}"}


def score_origin(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """The champion's forecast of the quarter after ``rows``' quarter, from those explicit feature rows."""
    request = rows[FEATURE_COLUMNS].assign(quarter=rows["quarter"].map(lambda q: quarter_offset(q, 1)))
    return model.predict(request)


@dg.asset(
    description=(
        "The champion (`sector-vitality`, the version the promotion gate reports) scores all ten sectors for "
        "the quarter after each forecast origin, from that origin's feature rows. Every partition is appended "
        "to the prediction log (`<store>/monitoring/prediction_log.parquet`, keyed by origin, model version "
        "and time; a re-run replaces its own rows) that `drift_report` reads for prediction drift and for "
        "the realised error once the quarter's score is published."
    ),
    group_name=MONITORING_GROUP,
    partitions_def=origin_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="parquet_io_manager",
    kinds={"mlflow", "parquet"},
    ins={"champion_model": dg.AssetIn(), "feature_frame": dg.AssetIn()},
    code_version="1",
)
def batch_predictions(
    context: dg.AssetExecutionContext,
    champion_model: dict,
    feature_frame: dict[str, pd.DataFrame],
    mlflow: MlflowResource,
    parquet_io_manager: dg.ResourceParam[ParquetIOManager],
) -> dg.Output:
    version = champion_model.get("champion_version")
    log_path = prediction_log_path(store_root(parquet_io_manager, context.instance))
    if not version:
        context.log.warning("batch_predictions: no model has passed the promotion gate; nothing scored")
        return dg.Output({k: empty_log() for k in context.partition_keys},
                         metadata={"champion": dg.MetadataValue.text("none: no model passed the promotion gate"),
                                   "prediction_log": dg.MetadataValue.path(str(log_path))})
    info = champion_version_info(mlflow, version)
    model = load_model(info["uri"])
    now = datetime.now(UTC).isoformat(timespec="seconds")
    parts: dict[str, pd.DataFrame] = {}
    for key in context.partition_keys:
        rows = feature_frame.get(key)
        if rows is None or rows.empty:
            raise dg.Failure(f"batch_predictions {quarter_key_to_label(key)}: feature_frame has no rows")
        scored = score_origin(model, rows).assign(
            origin=quarter_key_to_label(key), model_version=info["version"], predicted_at=now,
            dagster_run_id=context.run.run_id)[LOG_COLUMNS]
        parts[key] = scored
        context.add_asset_metadata(partition_key=key, metadata={
            "dagster/row_count": dg.MetadataValue.int(len(scored)),
            "forecast_quarter": dg.MetadataValue.text(str(scored["quarter"].iloc[0])),
            "predictions": dg.MetadataValue.md(markdown_table(scored.drop(columns=["dagster_run_id"]))),
        })
    log = append_to_prediction_log(log_path, pd.concat(parts.values(), ignore_index=True))
    context.log.info(f"batch_predictions: {len(parts)} origin(s) scored by {info['uri']}; log has {len(log)} rows")
    return dg.Output(parts, metadata={
        "champion": dg.MetadataValue.text(f"{info['uri']} ({info['model']}, origin {info['origin']})"),
        "model_version": dg.MetadataValue.text(info["version"]),
        "prediction_log": dg.MetadataValue.path(str(log_path)),
        "prediction_log_rows": dg.MetadataValue.int(len(log)),
        "prediction_log_versions": dg.MetadataValue.text(", ".join(sorted(log["model_version"].unique()))),
    })
