"""Features: known values, births as published on the origin's date, no look-ahead, target = next quarter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts.inputs import FEATURE_SCHEMA
from sector_forecast.contracts.validation import validate
from sector_forecast.domain.features import (
    FEATURE_COLUMNS,
    FEATURE_FRAME_COLUMNS,
    FEATURE_LINEAGE,
    PANEL_LINEAGE,
    build_features,
)
from sector_forecast.domain.panel import PANEL_COLUMNS
from sector_forecast.domain.periods import quarter_range, quarter_year
from sector_forecast.domain.realtime import demo14_release_date, origin_date
from sector_forecast.domain.score import panel_scores


def annual_births(sector: int, year: int) -> float:
    """DEMO14-like NYE of one (sector, year): distinct per year so a wrong vintage shows."""
    return 400.0 * sector + 40.0 * (year - 2019)


def make_panel(
    first: str = "2016Q1", last: str = "2024Q4", published: tuple[int, ...] = (2019, 2020, 2021, 2022), seed: int = 0
) -> pd.DataFrame:
    """A panel like the real one: births published for ``published`` years (annual/4 per quarter), a
    nowcast (mean of the last three published years) after them, unavailable before DEMO14's 2019."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in quarter_range(first, last):
        year = quarter_year(q)
        for s in range(1, 11):
            if year in published:
                births, prov, source = annual_births(s, year) / 4, "published", year
            elif year > min(published):
                past = [y for y in published if y < year][-3:]
                births, prov, source = np.mean([annual_births(s, y) for y in past]) / 4, "nowcast", past[-1]
            else:
                births, prov, source = np.nan, "unavailable", pd.NA
            rows.append((s, q, int(rng.poisson(5 + 3 * s)), births, prov, source))
    p = pd.DataFrame(
        rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance", "births_source_year"]
    )
    return p.astype({"bankruptcies": "Int64", "births_source_year": "Int64"})


def counts(panel: pd.DataFrame, sector: int) -> pd.Series:
    return panel[panel["sector"] == sector].set_index("quarter")["bankruptcies"].astype("float64")


def test_values_for_one_row():
    panel = make_panel()
    f = build_features(panel, ["2021Q2"]).set_index("sector")
    b = counts(panel, 4)
    logb = np.log1p(b)
    row = f.loc[4]
    # Origin 2021Q2 forecasts 2021Q3: the season and the target are the target quarter's.
    assert row["quarter"] == "2021Q2" and row["target_quarter"] == "2021Q3"
    assert row["quarter_of_year"] == 3
    assert row["target"] == b["2021Q3"]
    assert row["bankruptcies"] == b["2021Q2"]
    # Same quarter a year before the *target* (2020Q3) is 3 quarters back; the origin's own a year earlier is 4.
    assert row["bankruptcies_lag3"] == b["2020Q3"] and row["bankruptcies_lag4"] == b["2020Q2"]
    assert [row[f"log_lag{k}"] for k in range(5)] == pytest.approx(
        [logb[q] for q in ("2021Q2", "2021Q1", "2020Q4", "2020Q3", "2020Q2")]
    )
    assert row["log_mean_4q"] == pytest.approx(logb["2020Q3":"2021Q2"].mean())
    assert row["log_mean_8q"] == pytest.approx(logb["2019Q3":"2021Q2"].mean())
    assert row["log_std_8q"] == pytest.approx(logb["2019Q3":"2021Q2"].std(ddof=1))
    assert row["growth_qoq"] == pytest.approx(np.log((b["2021Q2"] + 1) / (b["2021Q1"] + 1)))
    assert row["growth_yoy"] == pytest.approx(np.log((b["2021Q2"] + 1) / (b["2020Q2"] + 1)))
    total = panel.loc[panel["quarter"] == "2021Q2", "bankruptcies"].sum()
    assert row["bankruptcy_share"] == pytest.approx(b["2021Q2"] / total)
    # Made 2021-07-11: DEMO14 2019 is out (2021-06-15), 2020 is not: log1p(NYE_2019 / 4) = log1p(1600 / 4)
    assert row["births_known_log"] == pytest.approx(np.log1p(1600 / 4))
    assert len(f) == 10 and list(build_features(panel, ["2021Q2"]).columns) == FEATURE_FRAME_COLUMNS


@pytest.mark.parametrize(
    ("origin", "made", "year"),
    [
        ("2021Q1", "2021-04-11", None),  # DEMO14 2019 is published 2021-06-15: nothing yet
        ("2021Q2", "2021-07-11", 2019),
        ("2022Q1", "2022-04-11", 2019),  # 2020 comes 2022-06-15
        ("2022Q2", "2022-07-11", 2020),
        ("2023Q3", "2023-10-11", 2021),
        ("2024Q4", "2025-01-11", 2022),  # 2023 would come 2025-06-15
    ],
)
def test_births_known_is_the_newest_demo14_year_published_by_the_origin_date(origin, made, year):
    # 2023 is marked published in today's panel, yet no origin up to 2024Q4 may see it.
    panel = make_panel(published=(2019, 2020, 2021, 2022, 2023))
    assert origin_date(origin) == pd.Timestamp(made)
    f = build_features(panel, [origin]).set_index("sector")["births_known_log"]
    if year is None:
        assert f.isna().all()
    else:
        expected = [np.log1p(annual_births(s, year) / 4) for s in range(1, 11)]
        assert f.tolist() == pytest.approx(expected)


def test_births_known_ignores_nowcasts_and_years_released_after_the_origin():
    panel = make_panel()  # 2023–2024 births are our nowcast
    base = build_features(panel, ["2022Q1", "2022Q2", "2024Q4"]).set_index(["quarter", "sector"])
    noisy = panel.copy()
    noisy.loc[noisy["births_provenance"] == "nowcast", "births"] *= 3
    year2020 = noisy["quarter"].str.startswith("2020")
    noisy.loc[year2020, "births"] *= 5  # the whole year, so its quarters still agree
    changed = build_features(noisy, ["2022Q1", "2022Q2", "2024Q4"]).set_index(["quarter", "sector"])
    # Nowcasts never enter. DEMO14 2020 (out 2022-06-15) is invisible at 2022Q1 (made 2022-04-11) ...
    pd.testing.assert_frame_equal(base.loc["2022Q1"], changed.loc["2022Q1"])
    # ... and is the newest year at 2022Q2 (made 2022-07-11), so there it must change: the test can fail.
    assert changed.loc["2022Q2", "births_known_log"].tolist() == pytest.approx(
        [np.log1p(5 * annual_births(s, 2020) / 4) for s in range(1, 11)]
    )
    assert changed.loc["2024Q4", "births_known_log"].tolist() == pytest.approx(
        [np.log1p(annual_births(s, 2022) / 4) for s in range(1, 11)]
    )


@pytest.mark.parametrize("origin", ["2019Q4", "2021Q2", "2022Q4"])
def test_no_look_ahead_later_quarters_perturbed(origin):
    panel = make_panel()
    quarters = [q for q in quarter_range("2018Q1", "2024Q4") if q <= origin]
    base = build_features(panel, quarters)
    made = origin_date(origin)
    later = panel["quarter"] > origin
    # Every DEMO14 year DST released after the origin's date, as a whole year (quarters of a year agree).
    unreleased = panel["quarter"].map(lambda q: demo14_release_date(quarter_year(q)) > made)
    noisy = panel.copy()
    noisy.loc[later, "bankruptcies"] = 999
    noisy.loc[unreleased & noisy["births"].notna(), "births"] *= 7
    noisy.loc[noisy["births_provenance"] == "nowcast", "births_provenance"] = "published"  # even if they were
    noisy = noisy.sample(frac=1.0, random_state=1)  # row order must not matter either
    changed = build_features(noisy, quarters)
    cols = [c for c in base.columns if c != "target"]
    pd.testing.assert_frame_equal(base[cols], changed[cols])
    # The target is q+1's count: unchanged except at the origin itself, whose target is origin+1.
    last = base["quarter"] == origin
    pd.testing.assert_series_equal(base.loc[~last, "target"], changed.loc[~last, "target"])
    assert (changed.loc[last, "target"] == 999).all()


def test_target_nan_when_next_quarter_missing_and_short_history_nan():
    panel = make_panel()
    f = build_features(panel[panel["quarter"] <= "2020Q2"], ["2020Q2", "2016Q1", "2016Q4"])
    assert f.loc[f["quarter"] == "2020Q2", "target"].isna().all()
    first = f[f["quarter"] == "2016Q1"]
    assert first["log_lag0"].notna().all() and first["log_lag1"].isna().all()
    assert first["log_mean_4q"].isna().all() and first["bankruptcies_lag3"].isna().all()
    # 2016Q4 has its four quarters (2016Q1–Q4) but not eight, nor a year-earlier count
    fourth = f[f["quarter"] == "2016Q4"]
    assert fourth["log_mean_4q"].notna().all() and fourth["log_mean_8q"].isna().all()
    assert fourth["bankruptcies_lag3"].notna().all() and fourth["bankruptcies_lag4"].isna().all()
    assert fourth["births_known_log"].isna().all()  # made 2017-01-11: no DEMO14 year exists yet
    with pytest.raises(ValueError, match="not in the panel window"):
        build_features(panel, ["2030Q1"])
    with pytest.raises(ValueError, match="duplicate"):
        build_features(pd.concat([panel, panel.iloc[[3]]]), ["2021Q1"])


def test_gap_in_window_is_not_bridged():
    panel = make_panel()
    gap = panel[panel["quarter"] != "2021Q1"]
    f = build_features(gap, ["2021Q2", "2020Q4"]).set_index(["quarter", "sector"])
    b = counts(panel, 1)
    assert f.loc["2021Q2", "log_lag1"].isna().all()
    assert f.loc[("2021Q2", 1), "log_lag2"] == pytest.approx(np.log1p(b["2020Q4"]))
    assert f.loc["2021Q2", "log_mean_4q"].isna().all()  # a window with a hole is not a 4-quarter mean
    assert f.loc["2020Q4", "target"].isna().all()  # 2021Q1 is missing: no target, not 2021Q2's count


def test_suppressed_count_stays_missing():
    panel = make_panel()
    hit = (panel["sector"] == 3) & (panel["quarter"] == "2021Q2")
    panel.loc[hit, "bankruptcies"] = pd.NA
    f = build_features(panel, ["2021Q1", "2021Q2", "2021Q3"]).set_index(["quarter", "sector"])
    assert np.isnan(f.loc[("2021Q2", 3), "log_lag0"]) and np.isnan(f.loc[("2021Q2", 3), "bankruptcies"])
    assert np.isnan(f.loc[("2021Q1", 3), "target"])  # never a 0
    assert np.isnan(f.loc[("2021Q3", 3), "log_lag1"])
    # A partial total would lie about every sector's share of that quarter.
    assert f.loc["2021Q2", "bankruptcy_share"].isna().all()
    assert f.loc["2021Q3", "bankruptcy_share"].notna().all()


def test_schema_and_lineage_cover_all_columns():
    panel = panel_scores(make_panel())  # a full panel: the score columns are not features
    assert set(PANEL_COLUMNS) - {"bankruptcies_suppressed", "bankruptcies_konk4"} <= set(panel.columns)
    f = build_features(panel, quarter_range("2016Q1", "2024Q4"))
    assert validate(FEATURE_SCHEMA, f) == []
    assert set(FEATURE_LINEAGE) == set(f.columns) == set(FEATURE_FRAME_COLUMNS)
    assert set(FEATURE_COLUMNS) <= set(f.columns) and "target" not in FEATURE_COLUMNS
    assert set(PANEL_LINEAGE) == set(PANEL_COLUMNS)
    assert "sector" in FEATURE_COLUMNS and "quarter_of_year" in FEATURE_COLUMNS
