"""The prediction log: every forecast the champion served, kept across champions, for monitoring to judge.

Why the log is its own Parquet file (`<store>/monitoring/prediction_log.parquet`, beside the IO manager's
files) and not just `batch_predictions`' partition output: a partition is overwritten when it is
re-materialised, so the forecast an *earlier* champion served for a quarter would be lost exactly when
monitoring needs it — a quarter is judged on the forecast made before it was known. The log is keyed by
(origin, model version): re-running a quarter with the same version replaces its rows (idempotent), a new
version adds rows beside the old ones, every row carries `predicted_at`. It is rewritten atomically under a
file lock, so concurrent runs of different quarters never lose each other's rows.

Each row keeps its ``horizon`` (quarters between origin and forecast quarter, 1–4; a log written before horizons
reads as horizon 1), so a quarter's forecasts made one, two, three and four quarters earlier can each be graded
once the quarter is published (``graded_log``) and performance read per horizon.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from sector_forecast.storage.values import atomic_write, read_parquet

FORECAST_COLUMNS: list[str] = ["sector", "quarter", "horizon", "prediction", "lower80", "upper80", "lower95", "upper95",
                               "calibration80", "calibration95", "model", "model_origin"]
LOG_COLUMNS: list[str] = ["origin", *FORECAST_COLUMNS, "model_version", "predicted_at", "dagster_run_id"]
LOG_KEY: list[str] = ["origin", "model_version"]
GRADED_COLUMNS: list[str] = ["origin", "horizon", "quarter", "sector", "model", "model_version", "prediction",
                             "actual", "residual", "inside80", "inside95"]
_FLOATS = ("prediction", "lower80", "upper80", "lower95", "upper95")


def prediction_log_path(root: Path) -> Path:
    """Where the log lives under the asset store's root."""
    return root / "monitoring" / "prediction_log.parquet"


def empty_log() -> pd.DataFrame:
    """A log with no rows and the right column types (before the first batch prediction)."""
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in _FLOATS else "object")
                         for c in LOG_COLUMNS}).astype({"sector": "int64", "horizon": "int64"})


def read_prediction_log(path: Path) -> pd.DataFrame:
    """The whole log (empty, with its columns, before the first batch prediction); old rows are horizon 1."""
    if not path.exists():
        return empty_log()
    log = read_parquet(path)
    return log if "horizon" in log.columns else log.assign(horizon=1)[LOG_COLUMNS]


def merge_prediction_log(existing: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Replace the rows of every (origin, model version) in ``new``, keep everything else, sort."""
    if len(existing):
        replaced = pd.MultiIndex.from_frame(existing[LOG_KEY].astype(str)).isin(
            pd.MultiIndex.from_frame(new[LOG_KEY].astype(str)))
        existing = existing[~replaced]
    frames = [f for f in (existing[LOG_COLUMNS], new[LOG_COLUMNS]) if len(f)]
    merged = pd.concat(frames, ignore_index=True) if frames else empty_log()
    return merged.sort_values(["origin", "model_version", "horizon", "sector"], ignore_index=True)


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
    """Merge ``new`` into the log under an exclusive lock and rewrite it atomically; the merged log."""
    with _locked(path):
        merged = merge_prediction_log(read_prediction_log(path), new)
        atomic_write(path, lambda tmp: merged.to_parquet(tmp, index=False))
    return merged


def origin_forecast(backtest: pd.DataFrame, model: str, origin: str) -> pd.DataFrame:
    """``model``'s calibrated forecasts made at ``origin`` (one row per sector and horizon), in the log's columns.

    A backtest without a ``horizon`` column (the leaderboard's one-step ``predictions``) gives horizon 1 only;
    its ``predictions_by_horizon`` gives every horizon.
    """
    rows = backtest[(backtest["model"] == model) & (backtest["origin"].astype(str) == origin)]
    if "horizon" not in rows.columns:
        rows = rows.assign(horizon=1)
    out = rows.assign(quarter=rows["target_quarter"].astype(str), model_origin=origin,
                      sector=rows["sector"].astype("int64"), horizon=rows["horizon"].astype("int64"))
    return out[FORECAST_COLUMNS].sort_values(["horizon", "sector"], ignore_index=True)


def graded_log(log: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """Every logged forecast whose quarter DST has published, graded: actual, Pearson residual, inside 80/95 %.

    ``counts``: sector, quarter, bankruptcies (the panel). A quarter's forecasts at horizons 1–4 were made at
    four origins and each is graded once the quarter is out; group by ``horizon`` to read performance per horizon.
    """
    published = counts.dropna(subset=["bankruptcies"]).assign(
        sector=lambda d: d["sector"].astype("int64"), quarter=lambda d: d["quarter"].astype(str))
    rows = log.assign(sector=log["sector"].astype("int64"), quarter=log["quarter"].astype(str)).merge(
        published[["sector", "quarter", "bankruptcies"]], on=["sector", "quarter"], how="inner")
    actual = rows["bankruptcies"].astype("float64")
    mu = rows["prediction"].astype("float64")
    out = rows.assign(actual=actual, residual=(actual - mu) / np.sqrt(mu + 1.0),
                      inside80=(actual >= rows["lower80"]) & (actual <= rows["upper80"]),
                      inside95=(actual >= rows["lower95"]) & (actual <= rows["upper95"]))
    return out[GRADED_COLUMNS].sort_values(["quarter", "horizon", "sector"], ignore_index=True)


def performance_by_horizon(graded: pd.DataFrame) -> pd.DataFrame:
    """Per horizon: graded forecasts, quarters, coverage of the 80 %/95 % intervals, mean |Pearson residual|.

    Read across horizons, a degradation shows where it starts: the same quarter missed at every horizon is a
    shock; misses growing with the horizon are a model that forecasts too far.
    """
    columns = ["horizon", "graded", "quarters", "coverage80", "coverage95", "mean_abs_residual"]
    if graded.empty:
        return pd.DataFrame(columns=columns)
    out = graded.groupby("horizon").agg(
        graded=("sector", "size"), quarters=("quarter", "nunique"), coverage80=("inside80", "mean"),
        coverage95=("inside95", "mean"), mean_abs_residual=("residual", lambda r: float(np.abs(r).mean())))
    return out.reset_index()[columns]
