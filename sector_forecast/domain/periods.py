"""Quarter and month labels shared by the panel, features and models, and the dates that start them.

Quarters are plain strings like ``2024Q1`` (not DST's ``2024K1``) so that they sort correctly as text;
months follow DST's ``2024M01``. A period's start date (``2024-04-01``) is what Dagster's time-window
partitions use as keys; the conversions live here, once, so no caller slices ``key[5:7]`` by hand.
Arithmetic goes through ``pd.Period`` so year boundaries are never hand-coded.
"""

from __future__ import annotations

import re

import pandas as pd

QUARTER_PATTERN = r"(\d{4})Q([1-4])"
"""A quarter label (`2024Q1`), for every regex that checks one: contracts, the served model, realtime."""
MONTH_PATTERN = r"(\d{4})M(0[1-9]|1[0-2])"
"""A DST month code (`2024M01`)."""
_QUARTER_RE = re.compile(rf"^{QUARTER_PATTERN}$")
_MONTH_RE = re.compile(rf"^{MONTH_PATTERN}$")


def _parse_quarter(quarter: str) -> pd.Period:
    """Parse and validate a ``YYYYQn`` label, so typos fail loudly instead of silently mis-sorting."""
    if not isinstance(quarter, str) or not _QUARTER_RE.match(quarter):
        raise ValueError(f"invalid quarter label {quarter!r}: expected like '2024Q1'")
    return pd.Period(quarter, freq="Q")


def quarter_label(ts: pd.Timestamp | pd.Period | str) -> str:
    """Quarter label (``2024Q1``) of a timestamp, period, date string or DST month code (``2024M02``)."""
    if isinstance(ts, str) and _MONTH_RE.match(ts):
        return month_quarter(ts)
    period = ts.asfreq("Q") if isinstance(ts, pd.Period) else pd.Timestamp(ts).to_period("Q")
    return f"{period.year}Q{period.quarter}"


def quarter_months(quarter: str) -> list[str]:
    """The three DST month codes of a quarter, e.g. ``['2024M01', '2024M02', '2024M03']``."""
    p = _parse_quarter(quarter)
    first = 3 * (p.quarter - 1) + 1
    return [f"{p.year}M{m:02d}" for m in range(first, first + 3)]


def quarter_offset(quarter: str, n: int) -> str:
    """The quarter ``n`` quarters after (negative: before) ``quarter``."""
    return quarter_label(_parse_quarter(quarter) + n)


def quarter_year(quarter: str) -> int:
    """Calendar year of a quarter (the DEMO14 year its births come from)."""
    return int(_parse_quarter(quarter).year)


def quarter_of_year(quarter: str) -> int:
    """1–4: the seasonal position of a quarter."""
    return int(_parse_quarter(quarter).quarter)


def month_quarter(month: str) -> str:
    """Quarter label of a DST month code (``2024M05`` → ``2024Q2``)."""
    m = _MONTH_RE.match(month) if isinstance(month, str) else None
    if not m:
        raise ValueError(f"invalid month label {month!r}: expected like '2024M01'")
    return f"{m.group(1)}Q{(int(m.group(2)) - 1) // 3 + 1}"


def quarter_range(first: str, last: str) -> list[str]:
    """All quarters from ``first`` to ``last`` inclusive (empty when last < first)."""
    return [quarter_label(p) for p in pd.period_range(_parse_quarter(first), _parse_quarter(last), freq="Q")]


def quarter_index(quarter: str) -> int:
    """Quarters since year 0 (``year * 4 + quarter - 1``): a step count that increases by one a quarter."""
    p = _parse_quarter(quarter)
    return int(p.year) * 4 + int(p.quarter) - 1


def month_of_start(start: str) -> str:
    """DST month code of a month's start date (``2024-01-01`` → ``2024M01``)."""
    p = pd.Period(start, freq="M")
    return f"{p.year}M{p.month:02d}"


def month_start(month: str) -> str:
    """Start date of a DST month code (``2024M01`` → ``2024-01-01``)."""
    m = _MONTH_RE.match(month) if isinstance(month, str) else None
    if not m:
        raise ValueError(f"invalid month label {month!r}: expected like '2024M01'")
    return f"{m.group(1)}-{m.group(2)}-01"


def quarter_of_start(start: str) -> str:
    """Quarter label of a date (``2024-04-01`` → ``2024Q2``)."""
    return quarter_label(pd.Timestamp(start))


def quarter_start(quarter: str) -> str:
    """Start date of a quarter (``2024Q2`` → ``2024-04-01``)."""
    return _parse_quarter(quarter).start_time.strftime("%Y-%m-%d")


def quarter_month_starts(start: str) -> list[str]:
    """Start dates of the three months of the quarter starting at ``start`` (``2026-07-01`` → Jul, Aug, Sep)."""
    return [month_start(m) for m in quarter_months(quarter_of_start(start))]
