"""Model features per (sector, quarter), built only from the quarter itself and earlier quarters.

No look-ahead: every column except ``target`` is a function of panel rows with quarter <= the row's
quarter (lags shift backwards by calendar quarter, rolling windows end at and include the quarter, the
bankruptcy share uses the same quarter's ten sectors). ``target`` is the next quarter's score.

Where values are missing, and why (nothing is imputed here; the models decide):
- ``score``/``births_*`` before 2019 (DEMO14 starts in 2019, provenance ``unavailable``), and ``score``
  whenever the quarter's bankruptcies are suppressed by DST;
- lags, growth rates and rolling statistics until their history is long enough (rolling windows need all
  4 or 8 quarters present; a quarter missing from the window counts as missing);
- ``target`` for the latest quarter (its next quarter is not yet known) and where the next score is NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import quarter_of_year, quarter_offset, quarter_range

KEY_COLUMNS: list[str] = ["sector", "quarter"]
# `sector` is a model input: models treat it as categorical (one-hot in ridge, native category in xgboost).
FEATURE_COLUMNS: list[str] = [
    "sector", "quarter_of_year", "score",
    "score_lag1", "score_lag2", "score_lag3", "score_lag4",
    "score_mean_4q", "score_std_4q", "score_mean_8q", "score_std_8q", "momentum",
    "bankruptcies_log", "bankruptcy_growth_qoq", "bankruptcy_growth_yoy", "bankruptcy_share",
    "births_log", "birth_growth_yoy", "births_nowcast",
]
CATEGORICAL_FEATURES: list[str] = ["sector"]
TARGET_COLUMN = "target"
FEATURE_FRAME_COLUMNS: list[str] = [
    "sector", "quarter", *[c for c in FEATURE_COLUMNS if c != "sector"], TARGET_COLUMN
]
HISTORY_QUARTERS = 8  # quarters of panel history each requested quarter needs before it

_P = "quarterly_panel"
_SCORE = [(_P, "score")]
_BANK = [(_P, "bankruptcies")]
_BIRTHS = [(_P, "births")]
FEATURE_LINEAGE: dict[str, list[tuple[str, str]]] = {
    "sector": [(_P, "sector")],
    "quarter": [(_P, "quarter")],
    "quarter_of_year": [(_P, "quarter")],
    "score": _SCORE,
    **{f"score_lag{k}": _SCORE for k in range(1, 5)},
    **{f"score_{stat}_{w}q": _SCORE for stat in ("mean", "std") for w in (4, 8)},
    "momentum": _SCORE,
    "bankruptcies_log": _BANK,
    "bankruptcy_growth_qoq": _BANK,
    "bankruptcy_growth_yoy": _BANK,
    "bankruptcy_share": _BANK,
    "births_log": _BIRTHS,
    "birth_growth_yoy": _BIRTHS,
    "births_nowcast": [(_P, "births_provenance")],
    "target": [(_P, "score"), (_P, "quarter")],
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
    "score": [("konk25_raw", "bankruptcies"), ("demo14_raw", "value")],
}


def _log_ratio(now: pd.Series, before: pd.Series) -> pd.Series:
    """log((now + 1) / (before + 1)): a growth rate that stays finite when a count is 0."""
    return np.log1p(now) - np.log1p(before)


def build_features(panel_window: pd.DataFrame, quarters: list[str]) -> pd.DataFrame:
    """Feature rows for the requested quarters, computed from a panel window.

    ``panel_window`` should hold the 8 quarters before each requested quarter (shorter history gives NaN
    features, never an error) and the quarter after it when known (else target = NaN). Requested quarters
    must be in the window.
    """
    missing = sorted(set(quarters) - set(panel_window["quarter"]))
    if missing:
        raise ValueError(f"requested quarter(s) not in the panel window: {missing}")
    cols = ["sector", "quarter", "bankruptcies", "births", "births_provenance", "score"]
    src = panel_window[cols].copy()
    if src.duplicated(KEY_COLUMNS).any():
        raise ValueError("panel window has duplicate (sector, quarter) rows")
    # A complete calendar grid, so shift(k) is exactly k quarters back even when the window has gaps.
    all_q = quarter_range(min(src["quarter"]), max(src["quarter"]))
    grid = pd.MultiIndex.from_product([sorted(src["sector"].unique()), all_q], names=KEY_COLUMNS)
    df = src.set_index(KEY_COLUMNS).reindex(grid).reset_index()
    df["bankruptcies"] = df["bankruptcies"].astype("Float64").astype("float64")
    df["births"] = df["births"].astype("float64")
    df["score"] = df["score"].astype("float64")

    by = df.groupby("sector", sort=False)
    score, bank, births = by["score"], by["bankruptcies"], by["births"]
    out = df[KEY_COLUMNS].copy()
    out["quarter_of_year"] = df["quarter"].map(quarter_of_year).astype("int64")
    out["score"] = df["score"]
    for k in range(1, 5):
        out[f"score_lag{k}"] = score.shift(k)
    for w in (4, 8):
        roll = score.rolling(w, min_periods=w)
        out[f"score_mean_{w}q"] = roll.mean().reset_index(level=0, drop=True)
        out[f"score_std_{w}q"] = roll.std().reset_index(level=0, drop=True)
    out["momentum"] = out["score"] - out["score_mean_4q"]
    out["bankruptcies_log"] = np.log1p(df["bankruptcies"])
    out["bankruptcy_growth_qoq"] = _log_ratio(df["bankruptcies"], bank.shift(1))
    out["bankruptcy_growth_yoy"] = _log_ratio(df["bankruptcies"], bank.shift(4))
    # Share of the same quarter's total: NaN when any sector is suppressed (a partial total would lie).
    total = df.groupby("quarter")["bankruptcies"].transform(lambda s: s.sum(skipna=False))
    out["bankruptcy_share"] = df["bankruptcies"] / total.where(total > 0)
    out["births_log"] = np.log1p(df["births"])
    out["birth_growth_yoy"] = _log_ratio(df["births"], births.shift(4))
    out["births_nowcast"] = (df["births_provenance"] == "nowcast").astype("int64")
    # The only forward-looking column: the score of the next calendar quarter, if the window has it.
    nxt = df.set_index(KEY_COLUMNS)["score"]
    next_keys = pd.MultiIndex.from_arrays([df["sector"], df["quarter"].map(lambda q: quarter_offset(q, 1))])
    out[TARGET_COLUMN] = nxt.reindex(next_keys).to_numpy()

    out = out[out["quarter"].isin(quarters)]
    # Keep only rows that exist in the panel (the grid may have added sectors absent from a quarter).
    out = out.merge(src[KEY_COLUMNS], on=KEY_COLUMNS, how="inner")
    out["sector"] = out["sector"].astype("int64")
    return out[FEATURE_FRAME_COLUMNS].sort_values(["quarter", "sector"], ignore_index=True)
