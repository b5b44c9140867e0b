"""Model features per (sector, origin quarter), built only from what DST had published at the origin.

A row of quarter *q* is a forecast origin: it is made the day *q*'s last KONK month appears, and its target
is the bankruptcy count of *q*+1 — a published figure, never one of our nowcasts. No look-ahead:

- bankruptcy features use quarters <= q only (KONK months are published a week after the month, and the
  snapshot holds one vintage, so "as published at q" and "as published now" agree for them);
- births enter only as the newest DEMO14 year *published by the origin's date* (June of year+2), never a
  nowcast and never a year DST released after the origin (``realtime.births_vintage``);
- ``target`` (the next quarter's count) is the only forward-looking column.

Where values are missing, and why (nothing is imputed here; the models decide): lags and rolling
statistics until their history is long enough or where DST suppressed a month (``..``); ``births_known_log``
until the first DEMO14 year was published (mid-2021); ``target`` for the newest quarter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import quarter_of_year, quarter_offset, quarter_range
from sector_forecast.domain.realtime import births_vintage, origin_date

KEY_COLUMNS: list[str] = ["sector", "quarter"]
# `sector` and `quarter_of_year` (of the target) are categorical model inputs.
FEATURE_COLUMNS: list[str] = [
    "sector", "quarter_of_year",
    "log_lag0", "log_lag1", "log_lag2", "log_lag3", "log_lag4",
    "log_mean_4q", "log_mean_8q", "log_std_8q", "growth_qoq", "growth_yoy", "bankruptcy_share",
    "births_known_log",
]
CATEGORICAL_FEATURES: list[str] = ["sector", "quarter_of_year"]
TARGET_COLUMN = "target"
# Raw counts the baselines and the MASE scale read (not model inputs).
COUNT_COLUMNS: list[str] = ["bankruptcies", "bankruptcies_lag3", "bankruptcies_lag4", "bankruptcies_mean_4q"]
# What the regression models learn from: every feature but births. `births_known_log` exists only from the first
# DEMO14 release (mid-2021) on, so before it a model would learn it as an "after 2021" indicator from an imputed
# value; it stays in the frame for analysts and lineage, not as a model input (issue 19).
MODEL_FEATURES: list[str] = [c for c in FEATURE_COLUMNS if c != "births_known_log"]
FEATURE_FRAME_COLUMNS: list[str] = [
    "sector", "quarter", "target_quarter", *[c for c in FEATURE_COLUMNS if c != "sector"], *COUNT_COLUMNS,
    TARGET_COLUMN,
]
# Quarters of panel history each requested quarter needs before it: 8 for the rolling window, 12 so the
# newest DEMO14 year published at the origin (up to three years back) is in the window.
HISTORY_QUARTERS = 12

_P = "quarterly_panel"
_BANK = [(_P, "bankruptcies")]
FEATURE_LINEAGE: dict[str, list[tuple[str, str]]] = {
    "sector": [(_P, "sector")],
    "quarter": [(_P, "quarter")],
    "target_quarter": [(_P, "quarter")],
    "quarter_of_year": [(_P, "quarter")],
    **{f"log_lag{k}": _BANK for k in range(5)},
    **{c: _BANK for c in ("log_mean_4q", "log_mean_8q", "log_std_8q", "growth_qoq", "growth_yoy",
                          "bankruptcy_share", *COUNT_COLUMNS)},
    "births_known_log": [(_P, "births"), (_P, "births_provenance")],
    "target": [(_P, "bankruptcies"), (_P, "quarter")],
}
PANEL_LINEAGE: dict[str, list[tuple[str, str]]] = {
    "sector": [("konk25_raw", "branche25"), ("demo14_raw", "branchedb0710")],
    "quarter": [("konk25_raw", "period"), ("demo14_raw", "period")],
    "bankruptcies": [("konk25_raw", "bankruptcies"), ("konk25_raw", "suppressed")],
    "bankruptcies_suppressed": [("konk25_raw", "suppressed"), ("konk25_raw", "bankruptcies")],
    "bankruptcies_konk4": [("konk4_raw", "bankruptcies"), ("konk4_raw", "suppressed")],
    "births": [("demo14_raw", "value"), ("demo14_raw", "suppressed")],
    "births_provenance": [("demo14_raw", "period"), ("demo14_raw", "value")],
    "births_source_year": [("demo14_raw", "period")],
    "entry_share": [("konk25_raw", "bankruptcies"), ("demo14_raw", "value")],
    "balance": [("konk25_raw", "bankruptcies"), ("demo14_raw", "value")],
    "score": [("konk25_raw", "bankruptcies"), ("demo14_raw", "value")],
}


def _known_births(panel_window: pd.DataFrame, quarters: list[str]) -> pd.DataFrame:
    """log1p(quarterly births) of the newest DEMO14 year published on each origin's date, per sector."""
    rows = []
    for quarter in quarters:
        vintage = births_vintage(panel_window, origin_date(quarter))
        if vintage.empty:
            continue
        newest = vintage[vintage["year"] == vintage["year"].max()]
        for sector, annual in zip(newest["sector"], newest["births_annual"], strict=True):
            rows.append((int(sector), quarter, float(np.log1p(annual / 4.0))))
    return pd.DataFrame(rows, columns=[*KEY_COLUMNS, "births_known_log"])


def build_features(panel_window: pd.DataFrame, quarters: list[str]) -> pd.DataFrame:
    """Feature rows for the requested origin quarters, computed from a panel window.

    ``panel_window`` should hold ``HISTORY_QUARTERS`` quarters before each requested quarter (shorter
    history gives NaN features, never an error) and the quarter after it when known (else target = NaN).
    """
    missing = sorted(set(quarters) - set(panel_window["quarter"]))
    if missing:
        raise ValueError(f"requested quarter(s) not in the panel window: {missing}")
    src = panel_window[["sector", "quarter", "bankruptcies"]].copy()
    if src.duplicated(KEY_COLUMNS).any():
        raise ValueError("panel window has duplicate (sector, quarter) rows")
    # A complete calendar grid, so shift(k) is exactly k quarters back even when the window has gaps.
    all_q = quarter_range(min(src["quarter"]), max(src["quarter"]))
    grid = pd.MultiIndex.from_product([sorted(src["sector"].unique()), all_q], names=KEY_COLUMNS)
    df = src.set_index(KEY_COLUMNS).reindex(grid).reset_index()
    count = df["bankruptcies"].astype("Float64").astype("float64")
    logc = np.log1p(count)
    by = logc.groupby(df["sector"], sort=False)

    out = df[KEY_COLUMNS].copy()
    out["target_quarter"] = df["quarter"].map(lambda q: quarter_offset(q, 1))
    out["quarter_of_year"] = out["target_quarter"].map(quarter_of_year).astype("int64")
    for k in range(5):
        out[f"log_lag{k}"] = by.shift(k)
    for w in (4, 8):
        roll = by.rolling(w, min_periods=w)
        out[f"log_mean_{w}q"] = roll.mean().reset_index(level=0, drop=True)
    out["log_std_8q"] = by.rolling(8, min_periods=8).std().reset_index(level=0, drop=True)
    out["growth_qoq"] = out["log_lag0"] - out["log_lag1"]
    out["growth_yoy"] = out["log_lag0"] - out["log_lag4"]
    # Share of the same quarter's total: NaN when any sector is suppressed (a partial total would lie).
    total = count.groupby(df["quarter"]).transform(lambda s: s.sum(skipna=False))
    out["bankruptcy_share"] = count / total.where(total > 0)
    out["bankruptcies"] = count
    cnt = count.groupby(df["sector"], sort=False)
    out["bankruptcies_lag3"] = cnt.shift(3)  # the target quarter's count a year earlier (seasonal naive)
    out["bankruptcies_lag4"] = cnt.shift(4)  # this quarter a year earlier (the MASE scale's difference)
    # Mean count of the last four quarters (q-3..q): the "recent mean" baseline; NaN unless all four are known.
    out["bankruptcies_mean_4q"] = cnt.rolling(4, min_periods=4).mean().reset_index(level=0, drop=True)
    out[TARGET_COLUMN] = cnt.shift(-1)  # next calendar quarter's count, if the window has it

    out = out[out["quarter"].isin(quarters)]
    births = _known_births(panel_window, quarters)
    out = out.merge(births, on=KEY_COLUMNS, how="left")
    # Keep only rows that exist in the panel (the grid may have added sectors absent from a quarter).
    out = out.merge(src[KEY_COLUMNS], on=KEY_COLUMNS, how="inner")
    out["sector"] = out["sector"].astype("int64")
    return out[FEATURE_FRAME_COLUMNS].sort_values(["quarter", "sector"], ignore_index=True)


HORIZONS: tuple[int, ...] = (1, 2, 3, 4)  # quarters ahead forecast from each origin (issue 24)


def horizon_frame(features: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """``features`` re-targeted ``horizon`` quarters ahead (direct forecasting): same origin rows, later target.

    Row (s, q) keeps its origin features; ``target_quarter`` = q+h, ``target`` = s's count of q+h (read by label
    from the frame's own ``bankruptcies``, NaN when the frame does not hold q+h), ``quarter_of_year`` that of
    q+h, and ``bankruptcies_lag3`` (the seasonal-naive input) = the count of q+h−4, the target quarter a year
    earlier. Horizon 1 returns ``features`` unchanged, so one-step fits stay exactly as they were.
    """
    if horizon not in HORIZONS:
        raise ValueError(f"horizon must be one of {HORIZONS}, got {horizon}")
    if horizon == 1:
        return features
    counts = features.set_index(KEY_COLUMNS)["bankruptcies"].astype("float64")
    counts = counts[~counts.index.duplicated()]
    out = features.copy()
    quarter = out["quarter"].astype(str)
    labels = quarter.unique()  # each label once: parsing ~500 rows one by one cost 0.1 s a fit

    def shifted(k: int) -> pd.Series:
        return quarter.map({q: quarter_offset(q, k) for q in labels})

    out["target_quarter"] = shifted(horizon)
    out["quarter_of_year"] = out["target_quarter"].map(
        {q: quarter_of_year(q) for q in out["target_quarter"].unique()}).astype("int64")

    def count_at(labels: pd.Series) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays([out["sector"].astype("int64"), labels])
        return counts.reindex(keys).to_numpy(dtype="float64")

    out[TARGET_COLUMN] = count_at(out["target_quarter"])
    out["bankruptcies_lag3"] = count_at(shifted(horizon - 4))
    return out
