"""The baselines a forecaster would pick, each forecasting next quarter's bankruptcies per sector.

- **naive**: this quarter's count; **seasonal naive**: the target quarter a year earlier; **recent mean**: the
  mean count of the last four quarters (the three read from the feature row's count columns);
- **theta**: statsforecast's ``AutoTheta`` per sector on the quarterly counts of the training window, which
  tests for seasonality (classical decomposition, period 4) and picks the best of the four Theta variants
  (standard/optimised, with and without dynamic updating) by in-sample MSE. Theta won the M3 competition and
  is a standard automatic benchmark; statsforecast's Theta core is compiled C++ (no numba JIT on this path:
  the first call costs the same as the next), where statsmodels' ``ThetaModel`` measured 5x slower per fit.

A baseline that cannot forecast a sector at an origin (an input count DST suppressed or not yet in the window;
a series too short or constant for Theta) gives NaN with a reason — never a silently substituted value — and the
leaderboard and the gate say how many such rows there are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Each rule baseline reads one count column of the feature row (domain/features.py).
RULE_COLUMNS: dict[str, str] = {
    "naive": "bankruptcies",
    "seasonal_naive": "bankruptcies_lag3",
    "mean_4q": "bankruptcies_mean_4q",
}
SEASON = 4
MIN_SERIES = 3 * SEASON  # Theta's seasonality test and decomposition need a few full years


def rule_forecast(name: str, rows: pd.DataFrame) -> tuple[np.ndarray, list[str | None]]:
    """A rule baseline's forecast per row, and per row the reason it is missing (None when present)."""
    column = RULE_COLUMNS[name]
    values = pd.to_numeric(rows[column], errors="coerce").astype("float64").to_numpy()
    reasons = [None if np.isfinite(v) else f"{column} unknown (suppressed or too little history)" for v in values]
    return values, reasons


def theta_forecast(series: np.ndarray, steps: int = 1) -> tuple[np.ndarray, np.ndarray, str | None, str | None]:
    """(forecasts 1..``steps`` ahead, in-sample one-step fitted values, chosen variant, reason if missing).

    ``series`` holds the sector's quarterly counts in time order ending at the origin; NaN (suppressed) values
    end it early: Theta needs a gap-free series, so only the values after the last gap are used. One fit gives
    every horizon (Theta's own multi-step path); its first step is the one-step forecast exactly.
    """
    from statsforecast.models import AutoTheta

    y = np.asarray(series, dtype="float64")
    gaps = np.flatnonzero(~np.isfinite(y))
    if len(gaps):
        y = y[gaps[-1] + 1:]
    missing = np.full(steps, np.nan)
    if len(y) < MIN_SERIES:
        return missing, np.full(len(y), np.nan), None, f"series too short for Theta ({len(y)} < {MIN_SERIES} quarters)"
    if np.all(y == y[0]):
        return missing, np.full(len(y), np.nan), None, "series constant: Theta cannot be fitted"
    model = AutoTheta(season_length=SEASON).fit(y)
    means = np.asarray(model.predict(h=steps)["mean"], dtype="float64")
    fitted = np.asarray(model.predict_in_sample()["fitted"], dtype="float64")
    return np.maximum(means, 0.0), fitted, str(model.model_["modeltype"]), None


def sector_series(train: pd.DataFrame, current: pd.DataFrame) -> dict[int, np.ndarray]:
    """Per sector: counts of the training rows' quarters then the origin's, on a gap-free calendar grid."""
    rows = pd.concat([train[["sector", "quarter", "bankruptcies"]], current[["sector", "quarter", "bankruptcies"]]])
    wide = rows.pivot_table(index="quarter", columns="sector", values="bankruptcies", aggfunc="first", dropna=False)
    wide = wide.sort_index()
    return {int(s): wide[s].astype("float64").to_numpy() for s in wide.columns}
