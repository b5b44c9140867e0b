"""Backtest scoring: the leaderboard of point and interval accuracy, overall and per sector.

Definitions (over rows whose actual is known; e = prediction − actual):
- **MAE**, **RMSE** in the target's units (bankruptcies, or score points).
- **MASE** (Hyndman & Koehler 2006) = mean of |e| / scale, where ``scale`` is the row's in-sample
  seasonal-naive MAE (mean |y_t − y_{t−4}| of its sector over the training window known at the origin).
  Scaling row by row makes sectors of very different size comparable; < 1 means the model beats what
  "same quarter last year" achieved in-sample. Rows with a missing or non-positive scale are left out.
- **coverage80/95** = share of actuals inside the calibrated interval; **width80** its mean width;
  **interval_score** = mean Winkler score of the 80 % interval divided by ``scale``. These use only rows
  with a finite interval (an uncalibrated row has upper = +inf and would make coverage trivially 1);
  ``n_interval`` counts the rows with a finite 80 % interval (the 95 % one needs more residuals).

For score forecasts pass the same columns with scores in ``prediction``/``actual`` and a per-row
``scale`` from ``score_scale(panel, origin)`` — the same Hyndman scale computed on the score series —
so MASE means the same thing for both targets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain.calibration import winkler_score
from sector_forecast.domain.periods import quarter_range

SEASON = 4
METRIC_COLUMNS: list[str] = [
    "n", "origins", "mae", "rmse", "mase", "coverage80", "coverage95", "interval_score", "width80", "n_interval",
]
LEADERBOARD_COLUMNS: list[str] = ["target", "rank", "model", *METRIC_COLUMNS]


def seasonal_scale(panel: pd.DataFrame, origin: str, column: str = "bankruptcies") -> pd.Series:
    """Per sector: mean |y_t − y_{t−4}| over the panel's quarters <= ``origin`` (NaN if no pair or 0).

    Quarters are aligned by label, so a missing or suppressed quarter drops its pairs instead of pairing
    the wrong ones.
    """
    rows = panel[panel["quarter"].astype(str) <= origin]
    if rows.empty:
        return pd.Series(dtype="float64", name="scale").rename_axis("sector")
    grid = quarter_range(str(rows["quarter"].min()), origin)
    wide = rows.pivot(index="sector", columns="quarter", values=column).astype("float64").reindex(columns=grid)
    scale = (wide - wide.shift(SEASON, axis=1)).abs().mean(axis=1)
    return scale.where(scale > 0).rename("scale")


def score_scale(panel: pd.DataFrame, origin: str) -> pd.Series:
    """``seasonal_scale`` of the Vitality Score: the MASE scale for score forecasts made at ``origin``.

    Hindsight, on purpose: it uses the scores of quarters <= origin as published *now*. At an origin no two
    scores a year apart are published yet (births come ~18 months late), so a real-time scale would be
    undefined for every graded score; the scale only normalises grading and feeds no forecast.
    """
    return seasonal_scale(panel, origin, column="score")


def _prepared(calibrated: pd.DataFrame) -> pd.DataFrame:
    """Graded rows with the per-row quantities the aggregates average."""
    known = calibrated[calibrated["actual"].notna() & calibrated["prediction"].notna()].copy()
    y = known["actual"].to_numpy(float)
    err = known["prediction"].to_numpy(float) - y
    scale = known["scale"].astype("float64").where(known["scale"] > 0).to_numpy()
    known["abs_err"] = np.abs(err)
    known["sq_err"] = err**2
    known["scaled_err"] = np.abs(err) / scale
    for c in ("80", "95"):
        lo = known[f"lower{c}"].to_numpy(float) if f"lower{c}" in known else np.full(len(known), np.nan)
        hi = known[f"upper{c}"].to_numpy(float) if f"upper{c}" in known else np.full(len(known), np.nan)
        finite = np.isfinite(lo) & np.isfinite(hi)
        known[f"in{c}"] = np.where(finite, (y >= lo) & (y <= hi), np.nan)
        if c == "80":
            known["width80"] = np.where(finite, hi - lo, np.nan)
            known["winkler80"] = np.where(finite, winkler_score(lo, hi, y, 0.8) / scale, np.nan)
    return known


def _aggregate(known: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    t = known.groupby(keys).agg(
        n=("abs_err", "size"), origins=("origin", "nunique"), mae=("abs_err", "mean"), rmse=("sq_err", "mean"),
        mase=("scaled_err", "mean"), coverage80=("in80", "mean"), coverage95=("in95", "mean"),
        interval_score=("winkler80", "mean"), width80=("width80", "mean"), n_interval=("in80", "count"),
    )
    t["rmse"] = np.sqrt(t["rmse"])
    return t.reset_index()


def leaderboard(calibrated: pd.DataFrame, target: str = "bankruptcies") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(overall, per_sector) metrics per model, ranked by MASE then MAE (best first, rank 1).

    ``calibrated`` is ``calibration.calibrate_backtest`` output (interval columns optional: without them
    the interval metrics are NaN). ``target`` only labels the tables ("bankruptcies" or "score").
    """
    known = _prepared(calibrated)
    if known.empty:
        return (pd.DataFrame(columns=LEADERBOARD_COLUMNS),
                pd.DataFrame(columns=["target", "sector", *LEADERBOARD_COLUMNS[1:]]))
    overall = _aggregate(known, ["model"]).sort_values(["mase", "mae", "model"], na_position="last")
    overall["rank"] = np.arange(1, len(overall) + 1)
    overall["target"] = target
    per_sector = _aggregate(known, ["model", "sector"]).sort_values(
        ["sector", "mase", "mae", "model"], na_position="last"
    )
    per_sector["rank"] = per_sector.groupby("sector").cumcount() + 1
    per_sector["target"] = target
    return (overall[LEADERBOARD_COLUMNS].reset_index(drop=True),
            per_sector[["target", "sector", *LEADERBOARD_COLUMNS[1:]]].reset_index(drop=True))
