"""Columns and row checks that several contracts share, defined once."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from sector_forecast.domain.periods import QUARTER_PATTERN, quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES

QUARTER_REGEX = rf"^{QUARTER_PATTERN}$"
SECTOR_COLUMN = pa.Column("int64", pa.Check.isin(list(SECTOR_CODES)), nullable=False,
                          description="DB07 sector code 1–10 (README: Sector codes)")
QUARTER_COLUMN = pa.Column(str, pa.Check.str_matches(QUARTER_REGEX), nullable=False)
INTERVAL_ORDER = ("lower95", "lower80", "prediction", "upper80", "upper95")
# Bounds come from quantiles and sums of floats: an interval touching its point may miss it by rounding.
NESTING_TOLERANCE = 1e-9


def described(column: pa.Column, description: str) -> pa.Column:
    """A copy of a shared column with its own description (the UI's column schema shows it)."""
    column = copy.deepcopy(column)
    column.description = description
    return column


def nested_intervals(d: pd.DataFrame, prefix: str = "") -> pd.Series:
    """lower95 <= lower80 <= prediction <= upper80 <= upper95 on every row (columns named with `prefix`).

    A row with a missing value passes: whether a bound may be missing is its column's own check. Bounds
    are compared pairwise (not differenced), so an infinite upper bound beside another one nests.
    """
    values = d[[f"{prefix}{c}" for c in INTERVAL_ORDER]].to_numpy(dtype="float64")
    ordered = (values[:, 1:] >= values[:, :-1] - NESTING_TOLERANCE).all(axis=1)
    return pd.Series(ordered | np.isnan(values).any(axis=1), index=d.index)


def _ahead(quarter: Any, steps: Any) -> str | None:
    """quarter + steps, or None for a malformed label or step (the columns' own checks report those)."""
    try:
        return quarter_offset(str(quarter), int(steps))
    except (TypeError, ValueError):
        return None


def is_horizon_ahead(d: pd.DataFrame, of: str, target: str) -> pd.Series:
    """On each row, `target` is `horizon` quarters after `of` (the next quarter in a frame without ``horizon``)."""
    steps = d["horizon"] if "horizon" in d.columns else pd.Series(1, index=d.index)
    expected = pd.Series([_ahead(q, h) for q, h in zip(d[of], steps, strict=True)], index=d.index, dtype="object")
    return d[target] == expected


def ten_sectors(key: str | list[str]) -> Callable[[pd.DataFrame], pd.Series]:
    """A row check: every value of `key` (a quarter, an origin, an origin and horizon) has all ten sectors."""
    return lambda d: d.groupby(key)["sector"].transform("nunique") == len(SECTOR_CODES)
