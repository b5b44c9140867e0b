"""Batch predictions: the champion's forecast of every sector at every forecast origin, into the prediction log.

`batch_predictions[q]` is the champion model's forecast of quarter q+1's bankruptcies made at origin q, with
its 80% and 95% intervals calibrated per sector — the row of the real-time backtest (`backtest_leaderboard`),
so each origin's forecast and interval use only what was known at q. No model is re-run here: the leaderboard
holds exactly the forecast the champion model made at q.

Why the prediction log is its own Parquet file (`<store>/monitoring/prediction_log.parquet`, beside the IO
manager's files) and not just this asset's partition output: a partition is overwritten when it is
re-materialised, so the forecast an *earlier* champion served for a quarter would be lost exactly when
monitoring needs it — a quarter is judged on the forecast made before it was known. The log is keyed by
(origin, model version): re-running a quarter with the same version replaces its rows (idempotent), a new
version adds rows beside the old ones, every row carries `predicted_at`. It is rewritten atomically under a
file lock, so concurrent runs of different quarters never lose each other's rows.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from sector_forecast import clock, tracking
from sector_forecast.assets.contracts import contract_spec, require_contract
from sector_forecast.domain.contracts_monitoring import BATCH_PREDICTIONS_SCHEMA
from sector_forecast.io_manager import ParquetIOManager, atomic_write, read_parquet
from sector_forecast.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.resources import MlflowResource
from sector_forecast.ui import markdown_table

MONITORING_GROUP = "monitoring"
FORECAST_COLUMNS: list[str] = ["sector", "quarter", "prediction", "lower80", "upper80", "lower95", "upper95",
                               "calibration80", "calibration95", "model", "model_origin"]
LOG_COLUMNS: list[str] = ["origin", *FORECAST_COLUMNS, "model_version", "predicted_at", "dagster_run_id"]
LOG_KEY: list[str] = ["origin", "model_version"]
_FLOATS = ("prediction", "lower80", "upper80", "lower95", "upper95")


def store_root(io_manager: ParquetIOManager, instance: dg.DagsterInstance) -> Path:
    """Where the IO manager keeps assets: its `base_dir`, else the instance's storage directory."""
    return Path(io_manager.base_dir) if io_manager.base_dir else Path(instance.storage_directory())


def prediction_log_path(root: Path) -> Path:
    return root / "monitoring" / "prediction_log.parquet"


def empty_log() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in _FLOATS else "object")
                         for c in LOG_COLUMNS}).astype({"sector": "int64"})


def read_prediction_log(path: Path) -> pd.DataFrame:
    """The whole log (empty, with its columns, before the first batch prediction)."""
    return read_parquet(path) if path.exists() else empty_log()


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


def _set_aside_old_format(path: Path) -> Path | None:
    """A log written before the count forecasts (score predictions, no 80/95% bounds) is moved aside, not mixed."""
    if not path.exists() or set(LOG_COLUMNS) <= set(read_parquet(path).columns):
        return None
    aside = path.with_name(f"prediction_log.score-era-{clock.now():%Y%m%dT%H%M%S}.parquet")
    path.rename(aside)
    return aside


def append_to_prediction_log(path: Path, new: pd.DataFrame) -> tuple[pd.DataFrame, Path | None]:
    """Merge ``new`` into the log under an exclusive lock and rewrite it atomically; (log, old log set aside)."""
    with _locked(path):
        aside = _set_aside_old_format(path)
        merged = merge_prediction_log(read_prediction_log(path), new)
        atomic_write(path, lambda tmp: merged.to_parquet(tmp, index=False))
    return merged, aside


def champion_version_info(mlflow_res: MlflowResource, version: str) -> dict[str, Any]:
    """Registry facts about one version of the registered model: model, training origin, run."""
    client = tracking.client_for(mlflow_res.uri)
    mv = client.get_model_version(mlflow_res.registered_model_name, version)
    return {"version": str(mv.version), "model": mv.tags.get("model"), "origin": mv.tags.get("origin"),
            "run_id": mv.run_id, "uri": f"models:/{mlflow_res.registered_model_name}/{mv.version}"}


def champion_name(champion_model: dict) -> str:
    """The model in service: the registry's current version's model, else the gate's champion."""
    return str(champion_model.get("champion_model") or champion_model["champion"])


def origin_forecast(backtest: pd.DataFrame, model: str, origin: str) -> pd.DataFrame:
    """``model``'s calibrated forecast made at ``origin`` (one row per sector), in the log's columns."""
    rows = backtest[(backtest["model"] == model) & (backtest["origin"].astype(str) == origin)]
    out = rows.assign(quarter=rows["target_quarter"].astype(str), model_origin=origin,
                      sector=rows["sector"].astype("int64"))
    return out[FORECAST_COLUMNS].sort_values("sector", ignore_index=True)


@dg.asset(
    description=(
        "The champion's forecast of next quarter's bankruptcies for all ten sectors at each forecast origin, with "
        "its per-sector calibrated 80% and 95% intervals: the origin's row of the real-time backtest, so it uses "
        "only what was known then. Appended to the prediction log (`<store>/monitoring/prediction_log.parquet`, "
        "keyed by origin and model version; a re-run replaces its own rows) that `drift_report` judges once the "
        "quarter is published."
    ),
    group_name=MONITORING_GROUP,
    partitions_def=origin_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="parquet_io_manager",
    kinds={"parquet"},
    ins={"champion_model": dg.AssetIn(), "backtest_leaderboard": dg.AssetIn()},
    check_specs=[contract_spec("batch_predictions", "Pandera contract of the batch predictions: ten sectors per "
                               "origin, forecast of origin + 1, nested intervals, +inf bounds only uncalibrated.")],
    code_version="2",
)
def batch_predictions(
    context: dg.AssetExecutionContext,
    champion_model: dict,
    backtest_leaderboard: dict,
    parquet_io_manager: dg.ResourceParam[ParquetIOManager],
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    model = champion_name(champion_model)
    version = str(champion_model.get("champion_version") or "none")
    log_path = prediction_log_path(store_root(parquet_io_manager, context.instance))
    now = clock.now().isoformat(timespec="seconds")
    parts: dict[str, pd.DataFrame] = {}
    missing: list[str] = []
    for key in context.partition_keys:
        origin = quarter_key_to_label(key)
        rows = origin_forecast(backtest_leaderboard["predictions"], model, origin).assign(
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
    log, aside = append_to_prediction_log(log_path, frame) if len(frame) else (read_prediction_log(log_path), None)
    if missing:
        context.log.warning(f"batch_predictions: no leaderboard forecast of {model} at {', '.join(missing)}")
    if aside:
        context.log.warning(f"batch_predictions: a score-era prediction log was set aside as {aside}")
    context.log.info(f"batch_predictions: {len(parts) - len(missing)} origin(s) of {model} (version {version}); "
                     f"log has {len(log)} rows")
    yield dg.Output(parts, metadata={
        "champion": dg.MetadataValue.text(f"{model} (registered version {version})"),
        "model_version": dg.MetadataValue.text(version),
        "origins_without_forecast": dg.MetadataValue.text(", ".join(missing) or "none"),
        "prediction_log": dg.MetadataValue.path(str(log_path)),
        "prediction_log_rows": dg.MetadataValue.int(len(log)),
        "prediction_log_versions": dg.MetadataValue.text(", ".join(sorted(log["model_version"].astype(str).unique()))),
        **({"score_era_log_set_aside": dg.MetadataValue.path(str(aside))} if aside else {}),
    })
    yield result
