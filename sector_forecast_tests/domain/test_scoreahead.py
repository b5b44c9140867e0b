"""Which horizons' Sector Vitality Score is derived: births nowcast at most three years past DEMO14's newest
published year, a bankruptcy forecast at the horizon, and a simulation that reaches it."""

from __future__ import annotations

import pandas as pd

from sector_forecast.domain.scoreahead import MAX_NOWCAST_YEARS, score_reach


def _panel(last_published: int) -> pd.DataFrame:
    """Births published for 2019..last_published (each quarter holds a quarter of the annual count)."""
    rows = [(s, f"{y}Q{q}", 100.0, "published") for s in (1, 2) for y in range(2019, last_published + 1)
            for q in (1, 2, 3, 4)]
    return pd.DataFrame(rows, columns=["sector", "quarter", "births", "births_provenance"])


def test_the_bundled_case_scores_one_quarter_ahead_and_says_why_not_further() -> None:
    # Origin 2026Q3 is made on 2026-10-10; DEMO14 stops at 2023. 2026Q4 needs 2026's births: 3 years past 2023,
    # within the limit. 2027Q1..Q3 need 2027's: 4 years, beyond it, whatever the bankruptcy forecasts.
    reach = score_reach(_panel(2023), "2026Q3", forecast_horizons={1, 2, 3, 4}, derived_horizons={1})
    assert MAX_NOWCAST_YEARS == 3
    assert reach["target_quarter"].tolist() == ["2026Q4", "2027Q1", "2027Q2", "2027Q3"]
    assert reach["nowcast_years"].tolist() == [3, 4, 4, 4]
    assert reach["derived"].tolist() == [True, False, False, False]
    assert reach["why"].iloc[0] == ("derived: births of 2026 nowcast 3 year(s) past DEMO14's newest published "
                                    "year 2023, its uncertainty in the score's interval")
    assert reach["why"].iloc[1].startswith("not derived: births of 2027 would be nowcast 4 years past DEMO14's "
                                           "newest published year 2023, beyond the 3 years")


def test_a_horizon_within_the_births_limit_still_needs_a_forecast_and_a_simulation() -> None:
    # DEMO14 on schedule: at origin 2026Q3 (2026-10-10) year 2024 is out (June 2026), so 2027 is 3 years past it.
    reach = score_reach(_panel(2024), "2026Q3", forecast_horizons={1, 2}, derived_horizons={1})
    assert reach["nowcast_years"].tolist() == [2, 3, 3, 3]
    assert reach["derived"].tolist() == [True, False, False, False]
    assert reach["why"].iloc[1].startswith("not derived: the simulation draws one quarter ahead")
    assert reach["why"].iloc[2].startswith("not derived: no bankruptcy forecast 3 quarter(s) ahead")


def test_the_newest_published_year_is_the_one_out_on_the_origins_date() -> None:
    # DEMO14 year Y is out on June 15 of Y+2. Origin 2024Q2 is made on 2024-07-10: 2022 is out, so 2024Q3's
    # births (2024) are 2 years past it. Origin 2024Q1 is made on 2024-04-10, before 2022's release: 2021 is the
    # newest, 3 years before 2024.
    after = score_reach(_panel(2024), "2024Q2", forecast_horizons={1}, derived_horizons={1}, horizons=(1,))
    assert after[["newest_published", "nowcast_years"]].iloc[0].tolist() == [2022, 2]
    before = score_reach(_panel(2024), "2024Q1", forecast_horizons={1}, derived_horizons={1}, horizons=(1,))
    assert before[["newest_published", "nowcast_years"]].iloc[0].tolist() == [2021, 3]


def test_no_published_births_means_no_score_at_any_horizon() -> None:
    reach = score_reach(_panel(2019).iloc[0:0], "2026Q3", forecast_horizons={1}, derived_horizons=set())
    assert not reach["derived"].any()
    assert reach["why"].iloc[0] == ("not derived: no DEMO14 year was published by the origin: there are no births "
                                    "to nowcast from")
    assert pd.isna(reach["newest_published"].iloc[0])
