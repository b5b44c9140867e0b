"""Seeded generator pieces shared by the snapshot reconstruction and the local server's `publish`.

Cells are generated only for *leaf* codes (codes that are not an aggregate in `tables.HIERARCHY`); every
aggregate is then the exact sum of its children, so a generated table is always internally consistent.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from sector_forecast.statbank.server.tables import HIERARCHY

VALUE = "value"


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """A generator that depends only on the seed and the keys (table, period), never on call order."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode("utf-8")) for k in keys)])


def aggregate_codes(table: str, column: str) -> set[str]:
    return {agg for col, agg, _ in HIERARCHY[table] if col == column}


def leaf_mask(table: str, frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col in columns:
        mask &= ~frame[col].isin(aggregate_codes(table, col))
    return mask


def apply_hierarchy(table: str, leaves: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Add every aggregate row (as the exact sum of its children) to a frame of numeric leaf rows.

    `leaves` has the classification columns, `TID` and a numeric `value` column.
    """
    frame = leaves.copy()
    for col, agg, children in HIERARCHY[table]:
        others = [c for c in columns if c != col] + ["TID"]
        part = frame[frame[col].isin(children)]
        summed = part.groupby(others, sort=False, as_index=False)[VALUE].sum(min_count=1)
        summed[col] = agg
        frame = pd.concat([frame[frame[col] != agg], summed[frame.columns]], ignore_index=True)
    return frame


def to_cells(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Numeric `value` to DST's BULK strings: integers without decimals, NaN as `..`."""
    values = frame[VALUE]
    text = values.map(
        lambda v: ".." if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v)))
    )
    out = frame[columns + ["TID"]].copy()
    out["INDHOLD"] = text.to_numpy()
    return out.reset_index(drop=True)


def _same_season(periods: list[str], period: str, years: int = 3) -> list[str]:
    """The last `years` periods with the same season as `period` (same month/quarter; any year if annual)."""
    season = period[4:]
    return [p for p in periods if p[4:] == season and p < period][-years:]


def synth_period(table: str, data: pd.DataFrame, period: str, seed: int) -> pd.DataFrame:
    """Generate one new period for `table` from its history (`data`, BULK strings), deterministically.

    Each leaf cell is Poisson around its mean over the same season of the last three years (so monthly
    seasonality and the recent level carry over); aggregates are summed from the leaves.
    """
    columns = [c for c in data.columns if c not in ("TID", "INDHOLD")]
    leaves = data[leaf_mask(table, data, columns)]
    window = _same_season(sorted(leaves["TID"].unique()), period)
    hist = leaves[leaves["TID"].isin(window)].assign(
        **{VALUE: pd.to_numeric(leaves["INDHOLD"], errors="coerce")}
    )
    lam = hist.groupby(columns, sort=False)[VALUE].mean().fillna(0.0).clip(lower=0.0)
    draws = rng_for(seed, table, period).poisson(lam.to_numpy())
    new = lam.index.to_frame(index=False)
    new["TID"] = period
    new[VALUE] = draws.astype(float)
    return to_cells(apply_hierarchy(table, new, columns), columns)
