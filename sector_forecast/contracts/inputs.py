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

from sector_forecast.contracts.columns import QUARTER_COLUMN, SECTOR_COLUMN, described, is_horizon_ahead, ten_sectors
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
            code_col: pa.Column(str, pa.Check.isin(list(codes)), nullable=False,
                                description="DST's industry code (BRANCHE in KONK4, BRANCHE25 in KONK25)"),
            "virktyp1": pa.Column(str, pa.Check.isin(list(VIRKTYP1_CODES)), nullable=False,
                                  description="enterprise type: K01 all, K02 active (the models' count), K03 zero"),
            "period": described(_period_column(period, r"^\d{4}M(0[1-9]|1[0-2])$"), "month, e.g. 2025M12"),
            "bankruptcies": pa.Column("Int64", pa.Check.ge(0), nullable=True,
                                      description="declared bankruptcies that month; <NA> where DST shows '..'"),
            "suppressed": pa.Column(bool, nullable=False, description="DST suppressed the cell ('..')"),
        },
        checks=[_suppression_check("bankruptcies")],
        unique=[code_col, "virktyp1", "period"],
        name=f"konk_raw[{code_col}]",
    )


def demo14_raw_schema(period: str | Sequence[str] | None) -> pa.DataFrameSchema:
    """DEMO14 year partition. NYE/OPH are counts (whole numbers); AFU (FTE) and OMS (DKK m) are not."""
    return pa.DataFrameSchema(
        {
            "region": pa.Column(str, pa.Check.isin(list(DEMO14_REGION_CODES)), nullable=False,
                                description="DST region code: 000 all Denmark, 081–085 the five regions"),
            "branchedb0710": pa.Column(str, pa.Check.isin(list(DEMO14_BRANCHE_CODES)), nullable=False,
                                       description="DB07 10-grouping: sector 1–10, 11 not stated, TOT all"),
            "maengde4": pa.Column(str, pa.Check.isin(list(DEMO14_MEASURES)), nullable=False,
                                  description="measure: NYE births, OPH closures, AFU FTE, OMS turnover DKK m"),
            "period": described(_period_column(period, r"^\d{4}$"), "year, e.g. 2023"),
            "value": pa.Column("float64", pa.Check.ge(0), nullable=True,
                               description="the measure's value that year; NaN where DST shows '..'"),
            "suppressed": pa.Column(bool, nullable=False, description="DST suppressed the cell ('..')"),
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
        "quarter": described(QUARTER_COLUMN, "calendar quarter, e.g. 2025Q4"),
        "bankruptcies": pa.Column("Int64", pa.Check.ge(0), nullable=True,
                                  description="KONK25 bankruptcies of active enterprises (K02), sum of the 3 months"),
        "bankruptcies_suppressed": pa.Column(bool, nullable=False,
                                             description="a month of the quarter was suppressed: no count"),
        "bankruptcies_konk4": pa.Column("Int64", pa.Check.ge(0), nullable=True,
                                        description="the same count from KONK4 (DB07), to 2025Q4 only"),
        "births": pa.Column("float64", pa.Check.ge(0), nullable=True,
                            description="DEMO14 new enterprises of the year / 4 (or the nowcast)"),
        "births_provenance": pa.Column(str, pa.Check.isin(list(BIRTHS_PROVENANCE)), nullable=False,
                                       description="published, nowcast (year not yet published) or unavailable"),
        "births_source_year": pa.Column("Int64", pa.Check.in_range(2019, 2100), nullable=True,
                                        description="the DEMO14 year births come from (newest published, if nowcast)"),
        "entry_share": described(_unit(), "old score: (births+1)/(births+bankruptcies+2), kept for comparison"),
        "balance": pa.Column("float64", nullable=True,
                             description="log((births+1)/(bankruptcies+1)), published births only"),
        "score": pa.Column("float64", pa.Check.in_range(0.0, 1.0, include_min=False, include_max=False),
                           nullable=True,
                           description="Sector Vitality Score: mid-rank percentile of balance in 20 prior quarters"),
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
# Log counts are log1p(bankruptcies) of the row's quarter (lag0) or k quarters earlier.
_FEATURE_DESCRIPTIONS = {
    **{f"log_lag{k}": f"log1p(bankruptcies) {k} quarter(s) before the origin" for k in range(1, 5)},
    "log_lag0": "log1p(bankruptcies) of the origin quarter",
    "log_mean_4q": "mean of log_lag0 over the last 4 quarters",
    "log_mean_8q": "mean of log_lag0 over the last 8 quarters",
    "growth_qoq": "log_lag0 - log_lag1 (change on the previous quarter)",
    "growth_yoy": "log_lag0 - log_lag4 (change on the same quarter a year earlier)",
    "births_known_log": "log1p of births in the newest DEMO14 year published by the origin's date (not a model input)",
    "bankruptcies": "the origin quarter's bankruptcy count",
    "bankruptcies_lag3": "the target quarter's count a year earlier (seasonal naive)",
    "bankruptcies_lag4": "the origin quarter's count a year earlier (MASE scale)",
    "bankruptcies_mean_4q": "mean count of the origin quarter and the three before (the recent-mean baseline)",
    TARGET_COLUMN: "next quarter's bankruptcy count, the forecast target (NaN while unpublished)",
}
_FEATURE_COLS: dict[str, pa.Column] = {
    "sector": SECTOR_COLUMN,
    "quarter": described(QUARTER_COLUMN, "the forecast origin: the row's quarter, data as published then"),
    "target_quarter": described(QUARTER_COLUMN, "the quarter forecast: origin + 1"),
    "quarter_of_year": pa.Column("int64", pa.Check.isin([1, 2, 3, 4]), nullable=False,
                                 description="the target quarter's number 1–4 (seasonality)"),
    "bankruptcy_share": described(_unit(), "the sector's share of the quarter's bankruptcies over 10 sectors"),
    "log_std_8q": pa.Column("float64", pa.Check.ge(0), nullable=True,
                            description="standard deviation of log_lag0 over the last 8 quarters"),
    **{c: described(_COUNT, _FEATURE_DESCRIPTIONS[c]) for c in (*COUNT_COLUMNS, TARGET_COLUMN)},
}
for _c in FEATURE_COLUMNS:
    _FEATURE_COLS.setdefault(_c, pa.Column("float64", nullable=True, description=_FEATURE_DESCRIPTIONS.get(_c)))

FEATURE_SCHEMA = pa.DataFrameSchema(
    _FEATURE_COLS,
    checks=[
        _row_check(
            lambda d: is_horizon_ahead(d, "quarter", "target_quarter"),
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
