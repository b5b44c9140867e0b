"""Release calendar, births vintages and the births nowcast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.periods import quarter_range
from sector_forecast.domain.realtime import (
    FALLBACK_LOG_SD,
    births_nowcast,
    births_vintage,
    demo14_published,
    log_change_sd,
    origin_date,
    published_births,
    vintage_as_of,
)


def panel(annual: dict[tuple[int, int], float], last: str = "2024Q4", provenance: str = "published") -> pd.DataFrame:
    """Quarterly panel rows carrying annual/4 births for the given (sector, year)s, 'unavailable' elsewhere."""
    rows = []
    for sector in sorted({s for s, _ in annual}):
        for q in quarter_range("2018Q1", last):
            value = annual.get((sector, int(q[:4])))
            prov = provenance if value is not None else "unavailable"
            rows.append((sector, q, 10, np.nan if value is None else value / 4, prov))
    return pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance"])


def test_origin_date_and_demo14_calendar():
    # 2019Q3 ends 2019-09-30; its September KONK is out ~10 days into October
    assert origin_date("2019Q3") == pd.Timestamp("2019-10-11")
    assert origin_date("2024Q4") == pd.Timestamp("2025-01-11")  # year boundary
    # DEMO14 2023 was published 2025-06-13; the rule (June 15 of Y+2) is two days conservative
    assert not demo14_published(2023, "2025-06-14")
    assert demo14_published(2023, pd.Timestamp("2025-06-15"))
    assert not demo14_published(2023, origin_date("2025Q1"))  # made 2025-04-11
    assert demo14_published(2023, origin_date("2025Q2"))  # made 2025-07-11


def test_births_vintage_keeps_only_years_published_by_the_date():
    p = panel({(1, 2019): 400.0, (1, 2020): 480.0, (1, 2021): 440.0, (2, 2019): 100.0})
    v = births_vintage(p, "2022-07-01")  # 2019 (out 2021-06-15) and 2020 (2022-06-15), not 2021
    assert v.to_dict("records") == [
        {"sector": 1, "year": 2019, "births_annual": 400.0},
        {"sector": 1, "year": 2020, "births_annual": 480.0},
        {"sector": 2, "year": 2019, "births_annual": 100.0},
    ]
    assert births_vintage(p, "2021-06-01").empty  # nothing out yet
    assert births_vintage(panel({(1, 2019): 400.0}, provenance="nowcast"), "2030-01-01").empty
    broken = p.copy()
    broken.loc[(broken["quarter"] == "2019Q2") & (broken["sector"] == 1), "births"] = 1.0
    with pytest.raises(ValueError, match="disagree"):
        births_vintage(broken, "2022-07-01")


def test_a_vintage_is_the_published_years_cut_at_the_date():
    # A backtest derives the published years once and cuts them per origin: the same frames as births_vintage.
    p = panel({(1, 2019): 400.0, (1, 2020): 480.0, (1, 2021): 440.0, (2, 2019): 100.0})
    published = published_births(p)
    for as_of in ("2021-06-01", "2021-06-15", "2022-07-01", "2030-01-01"):
        pd.testing.assert_frame_equal(vintage_as_of(published, as_of), births_vintage(p, as_of), check_exact=True)
    empty = published_births(p.iloc[:0])
    pd.testing.assert_frame_equal(vintage_as_of(empty, "2030-01-01"), births_vintage(p.iloc[:0], "2030-01-01"))


def test_nowcast_mean_horizon_and_sd():
    vintage = pd.DataFrame({
        "sector": [1] * 5 + [2] * 5,
        "year": [2019, 2020, 2021, 2022, 2023] * 2,
        "births_annual": [100.0, 200.0, 100.0, 100.0, 400.0, 50.0, 50.0, 50.0, 50.0, 50.0],
    })
    # Δlog sector 1: +ln2, −ln2, 0, +ln4 = 2ln2; sector 2: four zeros. RMS over 8 changes:
    # sqrt((ln2² + ln2² + 0 + 4ln2²)/8) = ln2·sqrt(6/8)
    sigma = np.log(2) * np.sqrt(0.75)
    assert log_change_sd(vintage) == pytest.approx(sigma)
    nc = births_nowcast(vintage, 2025).set_index("sector")
    # last three years 2021–2023: (100 + 100 + 400)/3 = 200; horizon 2025 − 2023 = 2 → sd·√2
    assert nc.loc[1, "nowcast_annual"] == pytest.approx(200.0)
    assert nc.loc[1, "horizon"] == 2 and nc.loc[1, "source_year"] == 2023
    assert nc.loc[1, "log_sd"] == pytest.approx(sigma * np.sqrt(2))
    assert nc.loc[2, "nowcast_annual"] == 50.0
    # Only years before the nowcast year are used: 2021 from 2019–2020 → mean 150, horizon 1
    assert births_nowcast(vintage, 2021).set_index("sector").loc[1, "nowcast_annual"] == pytest.approx(150.0)


def test_nowcast_fallbacks():
    two_years = pd.DataFrame({"sector": [1, 1, 2, 2], "year": [2019, 2020] * 2, "births_annual": [1.0, 9.0] * 2})
    # Two changes of ln9 but from one year-on-year step only (< 3 steps): the fallback sd, not 2.2
    assert log_change_sd(two_years) == FALLBACK_LOG_SD
    nc = births_nowcast(two_years, 2022)
    assert nc["log_sd"].tolist() == pytest.approx([FALLBACK_LOG_SD * np.sqrt(2)] * 2)
    empty = births_nowcast(two_years.iloc[:0], 2022)
    assert empty.empty and list(empty.columns) == [
        "sector", "year", "nowcast_annual", "log_sd", "source_year", "horizon"]
    before = births_nowcast(two_years, 2019)  # nothing published before 2019
    assert before["nowcast_annual"].isna().all() and before["horizon"].isna().all()
