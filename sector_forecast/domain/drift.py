"""Statistics for the monitoring report: feature drift, prediction shift and performance degradation.

With ten sectors a quarter, samples are small: a KS test on 10 vs 10 values has little power, so every
feature reports its sample sizes, features with fewer than ``min_samples`` values on either side are
marked 'sample too small' and never flagged, and the dataset flag is computed over testable features only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

PSI_EPSILON = 1e-4
DRIFT_TABLE_COLUMNS: list[str] = ["column", "n_ref", "n_cur", "ks_stat", "p_value", "psi", "drifted", "note"]


def _clean(values: pd.Series | np.ndarray | list[float]) -> np.ndarray:
    """Finite float values only (missing values are a data-quality matter, not a distribution shift)."""
    arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype="float64")
    return arr[np.isfinite(arr)]


def ks_test(
    reference: pd.Series | np.ndarray | list[float], current: pd.Series | np.ndarray | list[float]
) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov (statistic, p-value); (nan, nan) when a side is empty."""
    ref, cur = _clean(reference), _clean(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan"), float("nan")
    result = stats.ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def psi(
    reference: pd.Series | np.ndarray | list[float],
    current: pd.Series | np.ndarray | list[float],
    bins: int = 10,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index over quantile bins of the reference.

    PSI = Σ (cur% − ref%) · ln(cur% / ref%); empty bins get ``epsilon`` so the log stays finite. Bins come
    from the reference only (open-ended outer bins), so values outside its range still count.
    Rule of thumb: < 0.1 stable, 0.1–0.25 moderate, > 0.25 large shift.
    """
    ref, cur = _clean(reference), _clean(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    n_bins = len(inner) + 1
    ref_pct = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=n_bins) / len(ref)
    cur_pct = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=n_bins) / len(cur)
    ref_pct, cur_pct = np.maximum(ref_pct, epsilon), np.maximum(cur_pct, epsilon)
    return float(np.sum((cur_pct - ref_pct) * np.log(cur_pct / ref_pct)))


@dataclass
class DriftResult:
    """Per-feature drift table plus the dataset-level verdict."""

    table: pd.DataFrame
    n_testable: int
    n_drifted: int
    share_drifted: float
    dataset_drift: bool
    summary: str

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form for asset metadata."""
        return {
            "n_testable": self.n_testable, "n_drifted": self.n_drifted,
            "share_drifted": None if math.isnan(self.share_drifted) else self.share_drifted,
            "dataset_drift": self.dataset_drift, "summary": self.summary,
        }


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: list[str],
    p_threshold: float = 0.15,
    share_threshold: float = 0.3,
    min_samples: int = 8,
) -> DriftResult:
    """KS + PSI per feature; a testable feature drifts when its KS p-value < ``p_threshold``.

    The dataset drifts when the share of drifted testable features is >= ``share_threshold``. If no feature
    is testable, the flag is False and the summary says the samples are too small to judge.
    """
    rows = []
    for col in columns:
        ref, cur = _clean(reference[col]), _clean(current[col])
        row = {"column": col, "n_ref": len(ref), "n_cur": len(cur), "ks_stat": np.nan, "p_value": np.nan,
               "psi": np.nan, "drifted": False, "note": ""}
        if len(ref) < min_samples or len(cur) < min_samples:
            row["note"] = "sample too small"
        else:
            row["ks_stat"], row["p_value"] = ks_test(ref, cur)
            row["psi"] = psi(ref, cur)
            row["drifted"] = bool(row["p_value"] < p_threshold)
            row["note"] = "drift" if row["drifted"] else "ok"
        rows.append(row)
    table = pd.DataFrame(rows, columns=DRIFT_TABLE_COLUMNS)
    testable = table[table["note"] != "sample too small"]
    n_testable, n_drifted = len(testable), int(testable["drifted"].sum())
    if n_testable == 0:
        return DriftResult(
            table, 0, 0, float("nan"), False,
            f"no feature testable: fewer than {min_samples} values on a side for all {len(columns)} features",
        )
    share = n_drifted / n_testable
    flag = share >= share_threshold
    summary = (
        f"{n_drifted}/{n_testable} testable features drifted (KS p < {p_threshold}); share {share:.2f} "
        f"{'>=' if flag else '<'} {share_threshold}: {'dataset drift' if flag else 'no dataset drift'}"
    )
    return DriftResult(table, n_testable, n_drifted, share, flag, summary)


def prediction_shift(
    reference_preds: pd.Series | np.ndarray | list[float], current_preds: pd.Series | np.ndarray | list[float]
) -> dict[str, float]:
    """How far the current forecasts moved from the reference ones: KS, PSI and the mean shift."""
    ref, cur = _clean(reference_preds), _clean(current_preds)
    ks_stat, p_value = ks_test(ref, cur)
    mean_ref = float(ref.mean()) if len(ref) else float("nan")
    mean_cur = float(cur.mean()) if len(cur) else float("nan")
    return {
        "n_ref": len(ref), "n_cur": len(cur), "ks_stat": ks_stat, "p_value": p_value, "psi": psi(ref, cur),
        "mean_ref": mean_ref, "mean_cur": mean_cur, "mean_shift": mean_cur - mean_ref,
    }


def performance_degradation(
    realised_mae: float, baseline_mae: float, margin: float = 0.2
) -> tuple[bool, float]:
    """(retrain, realised/baseline): retrain iff realised MAE > baseline MAE · (1 + margin).

    ``baseline_mae`` must be a fixed reference measured before the monitored period — the model's own
    backtest MAE at promotion. The reference design compared the monitored MAE with itself, so its flag
    could never fire. Unknown inputs never trigger a retrain (ratio NaN).
    """
    if any(x is None or math.isnan(x) for x in (realised_mae, baseline_mae)):
        return False, float("nan")
    if baseline_mae <= 0:
        return realised_mae > 0, (math.inf if realised_mae > 0 else 1.0)
    ratio = realised_mae / baseline_mae
    return bool(realised_mae > baseline_mae * (1 + margin)), float(ratio)


# ---- Monitoring a quarter: the samples to compare and the realised error of the forecast made for it ------

# Calendar and provenance columns are identical or move by design, so they are not monitored: `sector` and
# `quarter_of_year` have the same distribution in every window, and `births_nowcast` flips from 0 to 1
# whenever DEMO14 lags (a publication-timing fact the panel already reports, not an input shift).
UNMONITORED_FEATURES: tuple[str, ...] = ("sector", "quarter_of_year", "births_nowcast")
REALISED_COLUMNS: list[str] = ["sector", "quarter", "prediction", "actual", "abs_error"]


def monitored_features(feature_columns: list[str]) -> list[str]:
    """The model features whose distribution can shift."""
    return [c for c in feature_columns if c not in UNMONITORED_FEATURES]


def reference_rows(training: pd.DataFrame, train_quarters: tuple[str, str], before: str) -> pd.DataFrame:
    """The champion's training rows (its fit window, target and score known) from quarters before ``before``.

    Cutting at the monitored window's first quarter keeps the two samples disjoint (a quarter compared with
    itself cannot drift, and the KS test assumes independent samples) and never lets a replay of an old
    quarter compare it with later data.
    """
    first, last = train_quarters
    q = training["quarter"]
    keep = (q >= first) & (q <= last) & (q < before) & training["target"].notna() & training["score"].notna()
    return training[keep].reset_index(drop=True)


@dataclass
class RealisedError:
    """How the forecast made for a quarter did once the quarter's score was published."""

    quarter: str
    source: str  # "prediction log" (a served forecast), "backtest replay", or "none"
    model_version: str | None
    model_origin: str | None
    n: int
    mae: float
    baseline_mae: float
    ratio: float
    degraded: bool
    retrain: bool
    note: str
    table: pd.DataFrame

    def to_dict(self) -> dict[str, object]:
        def num(x: float) -> float | None:
            return None if x is None or not math.isfinite(x) else float(x)

        return {
            "quarter": self.quarter, "source": self.source, "model_version": self.model_version,
            "model_origin": self.model_origin, "n": self.n, "mae": num(self.mae),
            "baseline_mae": num(self.baseline_mae), "ratio": num(self.ratio), "degraded": self.degraded,
            "retrain": self.retrain, "note": self.note,
        }


def served_forecast(log: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """The first out-of-sample forecast logged for ``quarter``: the rows of one (origin, model version).

    Out of sample means the model's origin is before the quarter, so its training never saw the quarter's
    score; a forecast re-scored later by a model trained on the quarter says nothing about degradation.
    """
    rows = log[(log["quarter"] == quarter) & (log["model_origin"] < quarter)]
    if rows.empty:
        return rows
    first = rows.sort_values("predicted_at", kind="mergesort").iloc[0]
    same = (rows["model_version"] == first["model_version"]) & (rows["origin"] == first["origin"])
    return rows[same].sort_values("sector", ignore_index=True)


def realised_error(
    quarter: str,
    actuals: pd.DataFrame,
    log: pd.DataFrame,
    replay: pd.DataFrame,
    baseline_mae: dict[str, float],
    margin: float = 0.2,
    current_version: str | None = None,
) -> RealisedError:
    """Realised MAE of the forecast made for ``quarter`` against the model's own backtest MAE.

    ``actuals``: the quarter's ``sector, score``. Source order: the served forecast from the prediction log
    (``baseline_mae[model_version]``), else the champion model's rolling-origin backtest forecast for the
    quarter (``replay``, ``baseline_mae["replay"]``). Only a served forecast of the model still in service
    (``current_version``) can ask for a retrain: a replay describes how the model family did then, and a
    version the promotion gate has already replaced needs no retraining (asking again would loop).
    """
    served = served_forecast(log, quarter)
    source, version, origin = "none", None, None
    preds = pd.DataFrame({"sector": pd.Series(dtype="int64"), "prediction": pd.Series(dtype="float64")})
    if not served.empty:
        source, preds = "prediction log", served[["sector", "prediction"]]
        version, origin = str(served["model_version"].iloc[0]), str(served["model_origin"].iloc[0])
    elif not replay.empty:
        source, preds = "backtest replay", replay[["sector", "prediction"]]
        origin = str(replay["origin"].iloc[0])
    actual = actuals[["sector", "score"]].rename(columns={"score": "actual"})
    table = preds.merge(actual, on="sector", how="left").assign(quarter=quarter)
    table = table.assign(abs_error=(table["prediction"] - table["actual"]).abs())[REALISED_COLUMNS]
    known = table.dropna(subset=["abs_error"])
    mae = float(known["abs_error"].mean()) if len(known) else float("nan")
    base = baseline_mae.get(version if source == "prediction log" else "replay", float("nan"))
    degraded, ratio = performance_degradation(mae, base, margin)
    retrain = degraded and source == "prediction log" and version == current_version
    if source == "none":
        note = f"no forecast for {quarter} to evaluate"
    elif not len(known):
        note = f"{quarter}: score not published yet (no actuals)"
    else:
        verdict = "worse than" if degraded else "within"
        note = (f"{source}: MAE {mae:.4f} over {len(known)} sectors is {verdict} the backtest MAE {base:.4f} "
                f"× (1 + {margin:g}) (ratio {ratio:.2f})")
        if degraded and source != "prediction log":
            note += "; a replay of history does not trigger a retrain"
        elif degraded and not retrain:
            note += f"; version {version} is no longer the champion ({current_version}): no retrain needed"
    return RealisedError(quarter, source, version, origin, len(known), mae, base, ratio, degraded, retrain,
                         note, table.reset_index(drop=True))
