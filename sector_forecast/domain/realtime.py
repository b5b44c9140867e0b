"""What DST had published on a forecast origin's date: release lags, births vintages and their nowcast.

A backtest is only honest if each origin sees the data as they stood that day. KONK months are out about a
week after the month ends, so bankruptcies are effectively real-time; DEMO14 births of year Y appear only
around June of Y+2 (2023 was published 2025-06-13), so at most origins the newest one or two years of
births are unknown and must be nowcast, with an uncertainty that grows with the distance to the newest
published year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import QUARTER_PATTERN, quarter_offset, quarter_year

KONK_RELEASE_LAG_DAYS = 10
DEMO14_RELEASE_MONTH_DAY: tuple[int, int] = (6, 15)
# Fallback sd of log year-on-year births changes while the vintage holds fewer than MIN_SIGMA_CHANGES
# year-on-year steps: about the typical sector's change in DEMO14 2019–2023 (most |Δlog| are 0.05–0.25).
FALLBACK_LOG_SD = 0.15
# Counted in years, not sector-years: one year's ten sector changes share the same shocks (2020, 2021) and
# are close to a single observation of the spread.
MIN_SIGMA_CHANGES = 3
VINTAGE_COLUMNS: list[str] = ["sector", "year", "births_annual"]
NOWCAST_COLUMNS: list[str] = ["sector", "year", "nowcast_annual", "log_sd", "source_year", "horizon"]


def origin_date(origin: str) -> pd.Timestamp:
    """The day a forecast from ``origin`` is made: its last KONK month is out (first day after + lag)."""
    first_after = pd.Period(quarter_offset(origin, 1), freq="Q").start_time.normalize()
    return first_after + pd.Timedelta(days=KONK_RELEASE_LAG_DAYS)


def demo14_release_date(year: int) -> pd.Timestamp:
    """When DEMO14 year ``year`` is taken to be out: June 15 of year+2 (a day or two after DST's date)."""
    month, day = DEMO14_RELEASE_MONTH_DAY
    return pd.Timestamp(year=int(year) + 2, month=month, day=day)


def demo14_published(year: int, as_of: pd.Timestamp | str) -> bool:
    """Whether DEMO14 births of ``year`` were published on ``as_of``."""
    return pd.Timestamp(as_of) >= demo14_release_date(year)


def _years(quarters: pd.Series) -> np.ndarray:
    """Calendar year of each quarter label, vectorised (the features call this once per origin)."""
    labels = quarters.astype(str)
    bad = ~labels.str.fullmatch(QUARTER_PATTERN)
    if bad.any():
        quarter_year(labels[bad].iloc[0])  # raises with the offending label
    return labels.str[:4].astype("int64").to_numpy()


def births_vintage(panel: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """Annual births per (sector, year) as published on ``as_of``: columns sector, year, births_annual.

    Built from the panel's rows with births_provenance == "published" (the quarter holds annual/4, so ×4),
    keeping only years DST had released by ``as_of``. Revisions are not modelled: DEMO14 publishes final
    figures once, so the value today is the value of that day. Quarters of one year that disagree are a
    data error and raise.
    """
    return vintage_as_of(published_births(panel), as_of)


def published_births(panel: pd.DataFrame) -> pd.DataFrame:
    """Every published year's annual births (``births_vintage`` before its release-date cut).

    Apart so that a backtest derives it once and cuts it per origin with ``vintage_as_of``.
    """
    rows = panel[(panel["births_provenance"] == "published") & panel["births"].notna()]
    if rows.empty:
        return pd.DataFrame({"sector": pd.Series(dtype="int64"), "year": pd.Series(dtype="int64"),
                             "births_annual": pd.Series(dtype="float64")})
    frame = pd.DataFrame({
        "sector": rows["sector"].astype("int64").to_numpy(),
        "year": _years(rows["quarter"]),
        "births_annual": rows["births"].astype("float64").to_numpy() * 4.0,
    })
    stats = frame.groupby(["sector", "year"], sort=True)["births_annual"].agg(["min", "max"])
    bad = stats[(stats["max"] - stats["min"]).abs() > 1e-6 * stats["max"].abs().clip(lower=1.0)]
    if len(bad):
        raise ValueError(f"births_vintage: quarters of one year disagree for (sector, year) {list(bad.index)}")
    return stats["min"].rename("births_annual").reset_index()[VINTAGE_COLUMNS]


def vintage_as_of(published: pd.DataFrame, as_of: pd.Timestamp | str) -> pd.DataFrame:
    """The rows of ``published_births`` whose year DST had released by ``as_of``, index reset."""
    if published.empty:
        return published.copy()
    years = published["year"].to_numpy()
    released = {y: demo14_published(y, as_of) for y in np.unique(years).tolist()}
    return published[np.fromiter((released[y] for y in years.tolist()), bool, len(years))].reset_index(drop=True)


def _histories(vintage: pd.DataFrame) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per sector, ascending: (sector, its years, their annual births) in year order.

    Arrays instead of a groupby of sub-frames: the score backtest nowcasts at every origin, and pandas'
    per-sector masking was most of a nowcast's time.
    """
    ordered = vintage.sort_values("year")
    sectors = ordered["sector"].to_numpy()
    years, values = ordered["year"].to_numpy(), ordered["births_annual"].to_numpy(float)
    return [(int(s), years[sectors == s], values[sectors == s]) for s in np.unique(sectors)]


def log_change_sd(vintage: pd.DataFrame) -> float:
    """sd of one year's log change in births, pooled over sectors, or FALLBACK_LOG_SD with few years.

    Root mean square of consecutive-year Δlog (i.e. around zero, not around the mean): the nowcast assumes
    no trend, so a common drift is part of its error and must widen the interval, not be subtracted.
    """
    changes, years = [], set()
    for _, y, v in _histories(vintage):
        step = (np.diff(y) == 1) & (v[1:] > 0) & (v[:-1] > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            changes.extend(np.diff(np.log(v))[step])
        years.update(y[1:][step].tolist())
    if len(years) < MIN_SIGMA_CHANGES:
        return FALLBACK_LOG_SD
    return float(np.sqrt(np.mean(np.square(changes))))


def births_nowcast(vintage: pd.DataFrame, year: int, n_years: int = 3) -> pd.DataFrame:
    """Nowcast of annual births of ``year`` per sector: mean of its last <= n_years published years < year.

    log_sd = sigma·sqrt(horizon), horizon = year − source_year (the newest year used), sigma from
    ``log_change_sd``: births behave roughly like a random walk in logs, so the error grows with √horizon.
    Draw as nowcast_annual·exp(log_sd·z). A sector with no published year before ``year`` gets NaN; an empty
    vintage gives an empty frame.
    """
    if vintage.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in NOWCAST_COLUMNS})
    sigma = log_change_sd(vintage)
    rows = []
    for sector, y, v in _histories(vintage):
        past = np.flatnonzero((y < year) & ~np.isnan(v))
        past = past[len(past) - min(max(n_years, 0), len(past)):]
        if not len(past):
            rows.append((sector, int(year), np.nan, np.nan, np.nan, np.nan))
            continue
        source = int(y[past[-1]])
        horizon = int(year) - source
        rows.append((sector, int(year), float(v[past].mean()), sigma * np.sqrt(horizon), source, horizon))
    out = pd.DataFrame(rows, columns=NOWCAST_COLUMNS)
    return out.astype({"source_year": "Int64", "horizon": "Int64"})
