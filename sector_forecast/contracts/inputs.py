"""Pandera contracts for the input edges: raw StatBank tables, the quarterly panel and the feature frame.

Missing values are allowed only where documented: a raw count only where DST suppressed the cell (``..``);
panel births only with provenance ``unavailable`` (quarters before DEMO14's 2019 start); balance and
score wherever births are not published or bankruptcies are missing (the score also needs 8 earlier
balances); feature lags/rolling stats where history is short; the target
where the next quarter is not yet known.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from sector_forecast.contracts.columns import QUARTER_COLUMN, SECTOR_COLUMN, is_next_quarter, ten_sectors
from sector_forecast.domain.features import COUNT_COLUMNS, FEATURE_COLUMNS, TARGET_COLUMN
from sector_forecast.domain.panel import BIRTHS_PROVENANCE
from sector_forecast.domain.periods import quarter_of_year
from sector_forecast.domain.sectors import (
    DEMO14_BRANCHE_CODES,
    DEMO14_MEASURES,
    DEMO14_REGION_CODES,
    VIRKTYP1_CODES,
)


def _unit(nullable: bool = True) -> pa.Column:
    """A float in [0, 1] (scores, shares, predictions)."""
    return pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=nullable)


def _row_check(fn: Any, name: str, error: str) -> pa.Check:
    """A dataframe-level, row-wise check, so failures name the offending rows."""
    return pa.Check(fn, name=name, error=error)


def _period_column(period: str | Sequence[str] | None, pattern: str) -> pa.Column:
    """The partition's period(s) only (or any well-formed period when ``period`` is None).

    A sequence serves a single-run backfill: the whole range is validated in one pass.
    """
    if period is None:
        check = pa.Check.str_matches(pattern)
    elif isinstance(period, str):
        check = pa.Check.equal_to(period)
    else:
        check = pa.Check.isin(list(period))
    return pa.Column(str, check, nullable=False)


def _suppression_check(value_col: str) -> pa.Check:
    """Missing iff suppressed: a number where DST shows ``..`` (or the reverse) is a parse error."""
    return _row_check(
        lambda d: d[value_col].isna() == d["suppressed"],
        name=f"{value_col}_missing_iff_suppressed",
        error=f"{value_col} must be missing exactly where suppressed is True",
    )


def konk_raw_schema(
    code_col: str, codes: list[str] | tuple[str, ...], period: str | Sequence[str] | None
) -> pa.DataFrameSchema:
    """KONK4 (``branche``) / KONK25 (``branche25``) month partition."""
    return pa.DataFrameSchema(
        {
            code_col: pa.Column(str, pa.Check.isin(list(codes)), nullable=False),
            "virktyp1": pa.Column(str, pa.Check.isin(list(VIRKTYP1_CODES)), nullable=False),
            "period": _period_column(period, r"^\d{4}M(0[1-9]|1[0-2])$"),
            "bankruptcies": pa.Column("Int64", pa.Check.ge(0), nullable=True),
            "suppressed": pa.Column(bool, nullable=False),
        },
        checks=[_suppression_check("bankruptcies")],
        unique=[code_col, "virktyp1", "period"],
        name=f"konk_raw[{code_col}]",
    )


def demo14_raw_schema(period: str | Sequence[str] | None) -> pa.DataFrameSchema:
    """DEMO14 year partition. NYE/OPH are counts (whole numbers); AFU (FTE) and OMS (DKK m) are not."""
    return pa.DataFrameSchema(
        {
            "region": pa.Column(str, pa.Check.isin(list(DEMO14_REGION_CODES)), nullable=False),
            "branchedb0710": pa.Column(str, pa.Check.isin(list(DEMO14_BRANCHE_CODES)), nullable=False),
            "maengde4": pa.Column(str, pa.Check.isin(list(DEMO14_MEASURES)), nullable=False),
            "period": _period_column(period, r"^\d{4}$"),
            "value": pa.Column("float64", pa.Check.ge(0), nullable=True),
            "suppressed": pa.Column(bool, nullable=False),
        },
        checks=[
            _suppression_check("value"),
            _row_check(
                lambda d: ~d["maengde4"].isin(["NYE", "OPH"]) | d["value"].isna() | (d["value"] % 1 == 0),
                name="counts_are_whole_numbers",
                error="NYE/OPH are counts of enterprises and must be whole numbers",
            ),
        ],
        unique=["region", "branchedb0710", "maengde4", "period"],
        name="demo14_raw",
    )


def _score_only_with_published_inputs(d: pd.DataFrame) -> pd.Series:
    """A balance or score exists only on published births and published bankruptcies (never a nowcast)."""
    published = (d["births_provenance"] == "published") & d["bankruptcies"].notna()
    return (d["balance"].isna() | published) & (d["score"].isna() | d["balance"].notna())


PANEL_SCHEMA = pa.DataFrameSchema(
    {
        "sector": SECTOR_COLUMN,
        "quarter": QUARTER_COLUMN,
        "bankruptcies": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "bankruptcies_suppressed": pa.Column(bool, nullable=False),
        "bankruptcies_konk4": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "births": pa.Column("float64", pa.Check.ge(0), nullable=True),
        "births_provenance": pa.Column(str, pa.Check.isin(list(BIRTHS_PROVENANCE)), nullable=False),
        "births_source_year": pa.Column("Int64", pa.Check.in_range(2019, 2100), nullable=True),
        "entry_share": _unit(),
        "balance": pa.Column("float64", nullable=True),
        "score": pa.Column("float64", pa.Check.in_range(0.0, 1.0, include_min=False, include_max=False),
                           nullable=True),
    },
    checks=[
        _row_check(
            lambda d: d["bankruptcies"].isna() == d["bankruptcies_suppressed"],
            name="bankruptcies_missing_iff_suppressed",
            error="bankruptcies must be <NA> exactly where bankruptcies_suppressed is True",
        ),
        _row_check(
            lambda d: d["births"].isna() == (d["births_provenance"] == "unavailable"),
            name="births_missing_iff_unavailable",
            error="births may be missing only with provenance 'unavailable' (before DEMO14's 2019 start)",
        ),
        _row_check(
            lambda d: d["births_source_year"].isna() == (d["births_provenance"] == "unavailable"),
            name="source_year_missing_iff_unavailable",
            error="births_source_year must be set unless provenance is 'unavailable'",
        ),
        _row_check(
            _score_only_with_published_inputs,
            name="score_only_with_published_inputs",
            error="balance and score may exist only where births are published and bankruptcies known",
        ),
        _row_check(ten_sectors("quarter"), name="ten_sectors_per_quarter", error="each quarter needs all ten sectors"),
    ],
    unique=["sector", "quarter"],
    name="quarterly_panel",
)

_COUNT = pa.Column("float64", pa.Check.ge(0), nullable=True)
_FEATURE_COLS: dict[str, pa.Column] = {
    "sector": SECTOR_COLUMN,
    "quarter": QUARTER_COLUMN,
    "target_quarter": QUARTER_COLUMN,
    "quarter_of_year": pa.Column("int64", pa.Check.isin([1, 2, 3, 4]), nullable=False),
    "bankruptcy_share": _unit(),
    "log_std_8q": pa.Column("float64", pa.Check.ge(0), nullable=True),
    **{c: _COUNT for c in (*COUNT_COLUMNS, TARGET_COLUMN)},
}
for _c in FEATURE_COLUMNS:
    _FEATURE_COLS.setdefault(_c, pa.Column("float64", nullable=True))

FEATURE_SCHEMA = pa.DataFrameSchema(
    _FEATURE_COLS,
    checks=[
        _row_check(
            lambda d: is_next_quarter(d, "quarter", "target_quarter"),
            name="target_is_next_quarter",
            error="target_quarter must be the quarter after the row's quarter",
        ),
        _row_check(
            lambda d: d["quarter_of_year"] == d["target_quarter"].map(quarter_of_year),
            name="quarter_of_year_is_the_targets",
            error="quarter_of_year must be the target quarter's number",
        ),
        _row_check(
            lambda d: d["log_lag0"].isna() | ((d["log_lag0"] - np.log1p(d["bankruptcies"])).abs() < 1e-9),
            name="log_lag0_definition",
            error="log_lag0 must equal log1p(bankruptcies)",
        ),
    ],
    unique=["sector", "quarter"],
    name="feature_frame",
)
