"""Why a forecast moved since the previous origin: per sector and horizon, the inputs that moved it most.

On the link scale (log of the forecast mean) the move from the previous origin's forecast to this one's splits
exactly into two parts, both evaluated with the fits the backtest made:

    log μ_now(x_now) − log μ_before(x_before)
        = [log μ_now(x_now) − log μ_now(x_before)]        the inputs' change, under this origin's fit
        + [log μ_now(x_before) − log μ_before(x_before)]  re-fitting on one more quarter ("refit")

The first part is split per input: for a GLM it is Σ_j β_j·(z_now,j − z_before,j) with z the pipeline's own
preprocessing (imputation, scaling, one-hot), the one-hot columns summed back to the feature they encode; for
XGBoost it is the difference of the booster's per-prediction contributions (`pred_contribs=True`, exact
TreeSHAP on the margin), whose bias term cancels; through the trees' interactions an input that did not move (the
sector) can take a part of what the others did. So the contributions and the refit add up to the change.
A baseline has no inputs to weigh: it gets one line saying what its rule is and how its input moved.

Feature rows may carry a ``horizon`` column (forecasts 1..4 quarters ahead from one origin); without one, the
rows are horizon 1. `explain_origins` explains each horizon with its own direct fit (`horizons.horizon_fits`).
No SHAP library: both decompositions are a few lines on what the fitted objects hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain.baselines import RULE_COLUMNS
from sector_forecast.domain.features import HORIZONS
from sector_forecast.domain.forecasters import MODELS, FittedModel
from sector_forecast.domain.horizons import horizon_fits, horizon_frames
from sector_forecast.domain.periods import quarter_offset

EXPLAIN_COLUMNS: list[str] = [
    "sector", "origin", "horizon", "feature", "contribution", "value_now", "value_before", "change", "reason",
]
TABLE_COLUMNS: list[str] = ["sector", "origin", "horizon", "why"]
REFIT = "refit"  # the part of the move that re-fitting on one more quarter made, not any input
TOP_K = 3
# One-hot groups named after the feature that moves between origins (a sector's season, not its code).
_SOURCE_NAMES = {"sector_season": "quarter_of_year"}
_RULES = {
    "naive": "this quarter's count",
    "seasonal_naive": "the count of the target quarter a year earlier",
    "mean_4q": "the mean count of the last four quarters",
}


def _by_horizon(rows: pd.DataFrame) -> list[tuple[int, pd.DataFrame]]:
    if "horizon" not in rows.columns:
        return [(1, rows)]
    return [(int(h), part) for h, part in rows.groupby("horizon", sort=True)]


def _aligned(now: pd.DataFrame, before: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sectors both origins have rows for, in the same order (one row per sector)."""
    if "horizon" in before.columns:
        before = before[before["horizon"] == horizon]
    sectors = sorted(set(now["sector"].astype(int)) & set(before["sector"].astype(int)))

    def pick(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.assign(sector=rows["sector"].astype(int)).set_index("sector").loc[sectors].reset_index()

    return pick(now), pick(before)


def _source(name: str, columns: list[str]) -> str:
    """The design column a preprocessed column comes from: itself, or the longest column its one-hot name extends."""
    bare = name.split("__", 1)[-1]
    owners = [c for c in columns if bare == c or bare.startswith(f"{c}_")]
    return max(owners, key=len) if owners else bare


def contributions(estimator, design: pd.DataFrame) -> pd.DataFrame:
    """Per row and design column, its additive share of log μ (up to a constant that cancels in a difference).

    XGBoost: the booster's `pred_contribs` without the bias column. A scikit-learn pipeline ending in a GLM:
    coefficient × the preprocessed value, one-hot columns summed to their source column.
    """
    if hasattr(estimator, "get_booster"):
        from xgboost import DMatrix

        values = estimator.get_booster().predict(DMatrix(design, enable_categorical=True), pred_contribs=True)
        return pd.DataFrame(values[:, :-1], columns=list(design.columns))
    prep, glm = estimator[:-1], estimator[-1]
    z = np.asarray(prep.transform(design), dtype="float64")
    names = [_source(str(n), list(design.columns)) for n in prep.get_feature_names_out()]
    terms = pd.DataFrame(z * glm.coef_, columns=names)
    return terms.T.groupby(level=0, sort=False).sum().T


def _log_mean(estimator, design: pd.DataFrame) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(estimator.predict(design), dtype="float64"))


def _regression_parts(now: FittedModel, before: FittedModel, cur: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    """Long rows (sector, feature, contribution, value_now, value_before, change) of a pooled estimator."""
    design = MODELS[now.name].design
    x_now, x_before = design(cur), design(prev)
    moved = contributions(now.estimator, x_now) - contributions(now.estimator, x_before)
    moved = moved.rename(columns=_SOURCE_NAMES)
    refit = _log_mean(now.estimator, x_before) - _log_mean(before.estimator, x_before)
    change = _log_mean(now.estimator, x_now) - _log_mean(before.estimator, x_before)
    rows = []
    for i, sector in enumerate(cur["sector"].astype(int)):
        for feature in moved.columns:
            a, b = (_value(frame, feature, i) for frame in (cur, prev))
            rows.append((sector, feature, float(moved.iloc[i][feature]), a, b, float(change[i]), ""))
        rows.append((sector, REFIT, float(refit[i]), np.nan, np.nan, float(change[i]), ""))
    return pd.DataFrame(rows, columns=[c for c in EXPLAIN_COLUMNS if c not in ("origin", "horizon")])


def _value(rows: pd.DataFrame, feature: str, i: int) -> float:
    if feature not in rows.columns:
        return np.nan
    value = pd.to_numeric(pd.Series([rows[feature].iloc[i]]), errors="coerce").iloc[0]
    return float(value) if pd.notna(value) else np.nan


def _count(value: float) -> str:
    return "unknown" if not np.isfinite(value) else f"{value:g}"


def _baseline_reason(model: FittedModel, row: pd.Series, a: float, b: float, origin: str) -> str:
    if model.name == "theta":
        variant = model.params.get("variant_by_sector", {}).get(str(int(row["sector"])), "no variant: not fitted")
        return (f"baseline: the forecast extrapolates the sector's quarterly counts with AutoTheta ({variant}); "
                f"the newest count moved {_count(b)} -> {_count(a)}")
    text = f"baseline: the forecast is {_RULES[model.name]}, {_count(b)} -> {_count(a)}"
    if model.name == "mean_4q":
        text += (f" ({origin}'s {_count(float(row['bankruptcies']))} replaced "
                 f"{quarter_offset(origin, -4)}'s {_count(float(row['bankruptcies_lag4']))})")
    return text


def _baseline_parts(model: FittedModel, cur: pd.DataFrame, prev: pd.DataFrame, origin: str) -> pd.DataFrame:
    """One row per sector: the rule's input (the newest count for Theta), its log change and the sentence."""
    column = RULE_COLUMNS.get(model.name, "bankruptcies")
    rows = []
    for i, sector in enumerate(cur["sector"].astype(int)):
        a, b = _value(cur, column, i), _value(prev, column, i)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = float(np.log(a) - np.log(b)) if model.name != "theta" and a > 0 and b > 0 else np.nan
        reason = _baseline_reason(model, cur.iloc[i], a, b, origin)
        rows.append((sector, column, change, a, b, change, reason))
    return pd.DataFrame(rows, columns=[c for c in EXPLAIN_COLUMNS if c not in ("origin", "horizon")])


def _top(parts: pd.DataFrame, k: int) -> pd.DataFrame:
    ranked = parts.assign(_size=parts["contribution"].abs()).sort_values(
        ["sector", "_size"], ascending=[True, False], na_position="last", kind="mergesort")
    return ranked.groupby("sector", sort=True).head(k).drop(columns="_size")


def explain_change(
    now: FittedModel, before: FittedModel, rows_now: pd.DataFrame, rows_before: pd.DataFrame, k: int = TOP_K
) -> pd.DataFrame:
    """Per sector and horizon, the ``k`` largest parts of the move of log μ since the previous origin.

    ``now``/``before``: the same model fitted at this origin and the previous one (``forecasters.rolling_origin_fit``);
    ``rows_now``/``rows_before``: each origin's feature rows (``quarter`` = the origin; optionally ``horizon``).
    Returns ``EXPLAIN_COLUMNS``: ``contribution`` on the log scale; ``change`` the whole move, which every part of
    it (all features and ``refit``, before the cut to ``k``) adds up to; ``reason`` the sentence of a baseline.
    """
    if now.name != before.name:
        raise ValueError(f"explain_change compares one model at two origins, got {now.name} and {before.name}")
    if rows_now.empty or rows_before.empty:
        raise ValueError("explain_change needs the feature rows of both origins")
    origin = str(rows_now["quarter"].iloc[0])
    regression = MODELS[now.name].kind == "regression"
    frames = []
    for horizon, part in _by_horizon(rows_now):
        cur, prev = _aligned(part, rows_before, horizon)
        parts = _regression_parts(now, before, cur, prev) if regression else _baseline_parts(now, cur, prev, origin)
        frames.append(_top(parts, k).assign(origin=origin, horizon=horizon))
    return pd.concat(frames, ignore_index=True)[EXPLAIN_COLUMNS]


def _series_move(parts: pd.DataFrame, now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """A series baseline (Theta) has no per-input parts: its whole move, from the two forecasts, goes in the text."""
    a = parts["sector"].map(now.set_index("sector")["prediction"]).astype("float64")
    b = parts["sector"].map(before.set_index("sector")["prediction"]).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.log(a) - np.log(b)
    text = [f"; the forecast moved {_count(round(y, 2))} -> {_count(round(x, 2))}" for x, y in zip(a, b, strict=True)]
    return parts.assign(change=change.where(np.isfinite(change)), reason=parts["reason"] + text)


def explain_origins(
    name: str, features: pd.DataFrame, origins: list[str], k: int = TOP_K, horizons: tuple[int, ...] = HORIZONS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`explain_change` of model ``name`` at each of ``origins`` and horizon against the origin before, refitted here.

    The fits are the backtest's own (`horizons.horizon_fits`: the domain's window, seed and direct fit per horizon),
    so they equal the stored fit partitions; each quarter is fitted once. Also returns the refits' predictions at
    ``origins`` (sector, origin, horizon, prediction), for the caller to check against what serves.
    Raises ValueError when an origin, or the one before it, has no feature rows.
    """
    wanted = sorted(set(origins))
    quarters = sorted(set(wanted) | {quarter_offset(o, -1) for o in wanted})
    known = set(features["quarter"].astype(str))
    for quarter in quarters:
        if quarter not in known:
            raise ValueError(f"no feature rows for origin {quarter}")
    frames = horizon_frames(features, horizons)
    fits = {q: horizon_fits(name, features, q, horizons=horizons, frames=frames) for q in quarters}
    parts, refits = [], []
    for origin in wanted:
        before = quarter_offset(origin, -1)
        for h in horizons:
            (now, rows_now, values_now), (then, rows_then, values_then) = fits[origin][h], fits[before][h]
            moved = explain_change(now, then, rows_now.assign(horizon=h), rows_then.assign(horizon=h), k)
            served_now = pd.DataFrame({"sector": rows_now["sector"].astype(int).to_numpy(), "prediction": values_now})
            if MODELS[name].kind == "series":
                moved = _series_move(moved, served_now, pd.DataFrame(
                    {"sector": rows_then["sector"].astype(int).to_numpy(), "prediction": values_then}))
            parts.append(moved)
            refits.append(served_now.assign(origin=origin, horizon=h))
    return pd.concat(parts, ignore_index=True), pd.concat(refits, ignore_index=True)


def _signed(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.2f}"


def explain_table(explained: pd.DataFrame) -> pd.DataFrame:
    """One row per (sector, origin, horizon) with a short ``why``: the baseline's sentence, or the move of log μ
    and its largest parts, e.g. ``log mean +0.18: log_lag0 +0.21, growth_yoy -0.05, refit +0.02``."""
    rows = []
    for (sector, origin, horizon), part in explained.groupby(["sector", "origin", "horizon"], sort=True):
        reason = str(part["reason"].iloc[0] or "")
        if not reason:
            terms = ", ".join(f"{f} {_signed(c)}" for f, c in zip(part["feature"], part["contribution"], strict=True))
            reason = f"log mean {_signed(float(part['change'].iloc[0]))}: {terms}"
        rows.append((int(sector), str(origin), int(horizon), reason))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
