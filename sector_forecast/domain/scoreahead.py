"""How many quarters ahead the Sector Vitality Score can be derived honestly, and why not beyond.

The score of quarter t needs the births of t's year (a quarter's births are DEMO14's annual count / 4). DST
publishes year Y around June of Y+2, so at a forecast origin that year is a nowcast (`realtime.births_nowcast`:
the mean of the last three published years, log-sd σ·√k for k years past the newest published year). A nowcast
stays the score's input, with its wider interval, while k <= ``MAX_NOWCAST_YEARS``; further out it would be
the score's guess. Three years is the reach DST's release rhythm itself imposes on a year-ahead forecast made on
schedule (from a January origin, year Y's births with Y−3 the newest published); a fourth means DEMO14 is late
or the table stopped, and a table of five years (2019–2023) holds a single four-year-ahead nowcast error to
check σ·√4 against.

Two more things limit a horizon h > 1 today: the served table must hold bankruptcy forecasts at h, and the
score's simulation (`scoresim.simulate_scores`) draws the target quarter only — a score h quarters ahead needs
joint draws of the h unobserved quarters inside its trailing year. Each limit is a sentence, never a number.
"""

from __future__ import annotations

import pandas as pd

from sector_forecast.domain.periods import quarter_offset, quarter_year
from sector_forecast.domain.realtime import births_vintage, origin_date

MAX_NOWCAST_YEARS = 3
HORIZONS: tuple[int, ...] = (1, 2, 3, 4)
REACH_COLUMNS: list[str] = [
    "horizon", "target_quarter", "births_year", "newest_published", "nowcast_years", "derived", "why",
]


def _births(year: int, newest: int | None) -> tuple[int | None, bool, str]:
    """(years of nowcast, honest?, the phrase) for the births of ``year`` given the newest published year."""
    if newest is None:
        return None, False, "no DEMO14 year was published by the origin: there are no births to nowcast from"
    k = year - newest  # >= 1: a quarter ahead lies in the origin's year or later, published two years on at best
    if k <= MAX_NOWCAST_YEARS:
        return k, True, f"births of {year} nowcast {k} year(s) past DEMO14's newest published year {newest}"
    return k, False, (f"births of {year} would be nowcast {k} years past DEMO14's newest published year {newest}, "
                      f"beyond the {MAX_NOWCAST_YEARS} years a forecast on DST's release rhythm needs: "
                      "the score would rest on a guess of births, not on data")


def score_reach(
    panel: pd.DataFrame, origin: str, forecast_horizons: set[int], derived_horizons: set[int],
    horizons: tuple[int, ...] = HORIZONS,
) -> pd.DataFrame:
    """Per horizon: its target quarter, how far its births are nowcast, whether its score is derived, and why.

    ``forecast_horizons``: horizons with bankruptcy forecasts; ``derived_horizons``: those the simulation scored.
    """
    vintage = births_vintage(panel, origin_date(origin))
    newest = int(vintage["year"].max()) if len(vintage) else None
    rows = []
    for h in horizons:
        target = quarter_offset(origin, h)
        year = quarter_year(target)
        k, honest, phrase = _births(year, newest)
        if not honest:
            why = f"not derived: {phrase}"
        elif h not in forecast_horizons:
            why = f"not derived: no bankruptcy forecast {h} quarter(s) ahead in the served table ({phrase})"
        elif h not in derived_horizons:
            why = (f"not derived: the simulation draws one quarter ahead; a score {h} quarters ahead needs joint "
                   f"draws of the {h} unobserved quarters of its trailing year ({phrase})")
        else:
            why = f"derived: {phrase}, its uncertainty in the score's interval"
        rows.append((h, target, year, newest, k, honest and h in derived_horizons, why))
    out = pd.DataFrame(rows, columns=REACH_COLUMNS)
    return out.astype({"newest_published": "Int64", "nowcast_years": "Int64"})
