"""Backtest scoring: the leaderboard, conformal intervals and the champion choice.

Definitions (all over rows whose actual is known):
- **MAE**, **RMSE** of prediction vs actual.
- **MASE** = the model's MAE / the seasonal-naive MAE *over the same (sector, origin) pairs*. It is a
  relative MAE against the seasonal baseline (not Hyndman's in-sample scaling), so < 1 means the model
  beats "same quarter last year" on exactly the cases both forecast. NaN without seasonal-naive rows.
- **Directional accuracy** = share of cases where sign(prediction − current score) equals
  sign(actual − current score). A change smaller than ``1e-9`` in absolute value counts as "no change"
  (sign 0); a tie is a hit only if both are "no change". Cases with an unknown current score are skipped.
  Persistence predicts "no change" everywhere, so its directional accuracy is ~0 by construction.
- **Coverage** = share of actuals within [lower, upper] (compare with the nominal coverage of the model).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

TIE_TOLERANCE = 1e-9
LEADERBOARD_COLUMNS: list[str] = [
    "rank", "model", "n", "mae", "rmse", "mase", "directional_accuracy", "coverage", "mean_interval_width",
]


def conformal_interval(residuals: np.ndarray | pd.Series | list[float], coverage: float) -> float:
    """Split-conformal half-width: the k-th smallest |residual|, k = ceil((n+1)·coverage).

    With too few residuals for the requested coverage the honest interval is unbounded; since scores live
    in [0, 1], a half-width of 1.0 (the whole range) is returned instead.
    """
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    r = np.abs(np.asarray(residuals, dtype="float64"))
    r = r[np.isfinite(r)]
    n = len(r)
    if n == 0:
        return 1.0
    k = math.ceil((n + 1) * coverage)
    if k > n:
        return 1.0
    return float(np.sort(r)[k - 1])


def _sign(x: pd.Series) -> pd.Series:
    return np.sign(x.where(x.abs() > TIE_TOLERANCE, 0.0))


def _scores(g: pd.DataFrame) -> pd.Series:
    err = g["prediction"] - g["actual"]
    known = g["current_score"].notna()
    hits = _sign(g["prediction"] - g["current_score"]) == _sign(g["actual"] - g["current_score"])
    return pd.Series({
        "n": len(g),
        "mae": err.abs().mean(),
        "rmse": float(np.sqrt((err**2).mean())),
        "directional_accuracy": hits[known].mean() if known.any() else np.nan,
        "coverage": ((g["actual"] >= g["lower"]) & (g["actual"] <= g["upper"])).mean(),
        "mean_interval_width": (g["upper"] - g["lower"]).mean(),
    })


def _mase(known: pd.DataFrame, keys: list[str], baseline: str) -> pd.Series:
    """MAE ratio to the baseline on the (sector, origin) pairs both forecast, per ``keys`` group."""
    base = known[known["model"] == baseline][["sector", "origin", "prediction", "actual"]]
    base = base.assign(base_err=(base["prediction"] - base["actual"]).abs())[["sector", "origin", "base_err"]]
    paired = known.merge(base, on=["sector", "origin"], how="inner")
    paired["err"] = (paired["prediction"] - paired["actual"]).abs()
    sums = paired.groupby(keys)[["err", "base_err"]].mean()
    return (sums["err"] / sums["base_err"].where(sums["base_err"] > 0)).rename("mase")


def leaderboard(
    predictions: pd.DataFrame, baseline: str = "seasonal_naive"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(overall, per_sector) scores over all evaluated origins, ranked by MASE then MAE (best first)."""
    known = predictions[predictions["actual"].notna()].copy()
    cols = [c for c in LEADERBOARD_COLUMNS if c != "rank"]
    if known.empty:
        empty = pd.DataFrame(columns=LEADERBOARD_COLUMNS)
        return empty, pd.DataFrame(columns=["sector", *LEADERBOARD_COLUMNS])
    tables = []
    for keys in (["model"], ["model", "sector"]):
        t = known.groupby(keys).apply(_scores, include_groups=False)
        t = t.join(_mase(known, keys, baseline)).reset_index()
        t["n"] = t["n"].astype(int)
        order = (["sector"] if "sector" in keys else []) + ["mase", "mae", "model"]
        t = t.sort_values(order, na_position="last", ignore_index=True)
        if "sector" in keys:
            t["rank"] = t.groupby("sector").cumcount() + 1
            t = t[["sector", "rank", *cols]]
        else:
            t["rank"] = np.arange(1, len(t) + 1)
            t = t[["rank", *cols]]
        tables.append(t)
    return tables[0], tables[1]


def choose_champion(overall: pd.DataFrame, baseline: str = "seasonal_naive") -> tuple[str, bool, str]:
    """The top-ranked model, whether it beats the baseline (lower MAE on the same cases), and why.

    When nothing beats the baseline the baseline itself is the champion: a forecast service should never
    serve a model that loses to "same quarter last year" (the reference design served whatever was saved
    last).
    """
    if overall.empty:
        raise ValueError("empty leaderboard: no evaluated origins yet")
    ranked = overall.sort_values(["rank"]) if "rank" in overall else overall
    best = ranked.iloc[0]
    if baseline not in set(overall["model"]):
        return str(best["model"]), False, f"baseline {baseline!r} not on the leaderboard; cannot compare"
    base = overall[overall["model"] == baseline].iloc[0]
    if best["model"] != baseline and pd.notna(best["mase"]) and best["mase"] < 1:
        return str(best["model"]), True, (
            f"{best['model']} MASE {best['mase']:.3f} (MAE {best['mae']:.4f}) beats {baseline} "
            f"(MAE {base['mae']:.4f}) over {int(best['n'])} forecasts"
        )
    challengers = overall[overall["model"] != baseline]
    detail = "no challengers"
    if len(challengers):
        runner = challengers.iloc[0]
        detail = f"best challenger {runner['model']} has MASE {runner['mase']:.3f}"
    reason = f"no model beats {baseline} (MAE {base['mae']:.4f}); {detail}; serving the baseline"
    return baseline, False, reason
