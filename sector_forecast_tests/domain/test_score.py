"""The vitality score: four-quarter balance, trailing mid-rank percentile, no seasons, leak-free, its drivers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.periods import quarter_of_year, quarter_range, quarter_year
from sector_forecast.domain.score import (
    SCORE_FORMULA_MD,
    SCORE_MIN_HISTORY,
    SCORE_WINDOW,
    balance,
    entry_share,
    panel_scores,
    percentile_score,
    quarter_of_year_test,
    score_drivers,
    trailing_sum,
    trailing_windows,
)


def sector_panel(bankruptcies: list[float], births: float = 399.0, sector: int = 1,
                 first: str = "2015Q1", provenance: str = "published") -> pd.DataFrame:
    quarters = quarter_range(first, "2099Q4")[: len(bankruptcies)]
    return pd.DataFrame({
        "sector": sector, "quarter": quarters, "bankruptcies": pd.array(bankruptcies, dtype="Int64"),
        "births": births, "births_provenance": provenance,
    })


def test_entry_share_and_balance_known_values():
    s = entry_share(pd.Series([0.0, 10.0, 0.0, 98.0]), pd.Series([0, 2, 8, 0]))
    assert s.tolist() == pytest.approx([0.5, 11 / 14, 1 / 10, 99 / 100])  # (b+1)/(b+k+2)
    b = balance(pd.Series([99.0, 0.0, 9.0]), pd.Series([9, 0, 99]))
    assert b.tolist() == pytest.approx([np.log(10), 0.0, -np.log(10)])  # log((b+1)/(k+1))
    assert balance(pd.Series([np.nan, 5.0]), pd.array([3, pd.NA], dtype="Int64")).isna().all()
    with pytest.raises(ValueError):
        entry_share(pd.Series([-1.0]), pd.Series([0]))


def test_percentile_score_by_hand():
    history = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    # at the median 5 of 9: (4 below + ½·1 tie + ½)/(9 + 1) = 0.5
    assert percentile_score(5.0, history) == pytest.approx(0.5)
    # above all 9: (9 + ½)/10 = 0.95; below all: ½/10 = 0.05; between 2 and 3: (2 + ½)/10 = 0.25
    assert percentile_score(np.array([10.0, 0.0, 2.5]), np.tile(history, (3, 1))).tolist() == pytest.approx(
        [0.95, 0.05, 0.25])
    # even n = 8, value between the middle two: (4 + ½)/9 = 0.5
    assert percentile_score(4.5, history[:8]) == pytest.approx(0.5)
    # NaNs in the history do not count; 7 valid < SCORE_MIN_HISTORY = 8 → NaN
    assert np.isnan(percentile_score(5.0, np.r_[history[:7], np.nan, np.nan]))
    assert np.isnan(percentile_score(np.nan, history))


def test_trailing_windows_hold_only_earlier_quarters():
    w = trailing_windows(np.arange(5.0), window=3)
    assert np.isnan(w[0]).all() and w[4].tolist() == [1.0, 2.0, 3.0]
    assert np.isnan(w[2, 0]) and w[2, 1:].tolist() == [0.0, 1.0]
    # leading axes (simulation draws) are carried along: row 1 = row 0 + 10
    two = trailing_windows(np.stack([np.arange(5.0), np.arange(5.0) + 10]), window=3)
    assert two.shape == (2, 5, 3) and two[1, 4].tolist() == [11.0, 12.0, 13.0]


def test_trailing_sum_is_four_quarters_and_missing_if_any_is():
    t = trailing_sum(np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan, 7.0, 8.0, 9.0, 10.0]))
    # 1+2+3+4 = 10, 2+3+4+5 = 14; every sum holding the NaN (positions 5–8) is NaN; 7+8+9+10 = 34
    assert np.isnan(t[:3]).all() and t[3:5].tolist() == [10.0, 14.0]
    assert np.isnan(t[5:9]).all() and t[9] == 34.0


def test_panel_score_half_at_the_median_and_nan_with_short_history():
    # births 399 a quarter (four quarters: 1596); bankruptcies 20, 19, …, 9, then 28
    p = panel_scores(sector_panel([*range(20, 8, -1), 28]))
    assert p["balance"].iloc[:3].isna().all()  # a balance needs four quarters
    assert p["balance"].iloc[3] == pytest.approx(np.log(1597 / 75))  # log((1596 + 1)/(20+19+18+17 + 1))
    assert p["entry_share"].iloc[0] == pytest.approx(400 / 421)  # the quarter's own: (399 + 1)/(399 + 20 + 2)
    # balances from quarter 3 on; 8 earlier ones first exist at quarter 11
    assert p["score"].iloc[:11].isna().all() and SCORE_MIN_HISTORY == 8
    # four-quarter bankruptcies fall 74, 70, …, 42 (quarters 3–11), so each balance beats all before: (8 + ½)/9
    assert p["score"].iloc[11] == pytest.approx(8.5 / 9)
    # quarter 12: 11 + 10 + 9 + 28 = 58, the median of 74…42 → 4 worse, 1 tie, 4 better: (4 + ½ + ½)/10
    assert p["score"].iloc[12] == pytest.approx(0.5)


def test_window_is_twenty_quarters_and_gaps_do_not_count():
    counts = [100] * 8 + [1] * (SCORE_WINDOW + 3) + [50]
    p = panel_scores(sector_panel(counts))
    # The last quarter (1+1+1+50 = 53) sees the 20 balances of quarters 11–30, each 1+1+1+1 = 4: it is the
    # worst, (0 + ½)/21. Quarter 10 (100+1+1+1 = 103, worse than 53) lies 21 back: inside, it would give 1.5/22.
    assert p["score"].iloc[-1] == pytest.approx(0.5 / 21)
    gaps = panel_scores(sector_panel([5] * 16).assign(
        bankruptcies=lambda d: d["bankruptcies"].mask(d.index == 6)))  # one suppressed quarter
    # every balance holding quarter 6 (6–9) is missing; the rest are equal
    assert gaps["balance"].isna().to_numpy().nonzero()[0].tolist() == [0, 1, 2, 6, 7, 8, 9]
    # quarter 15 has 8 earlier balances (3–5, 10–14), all ties: (0 + ½·8 + ½)/9; quarter 14 only 7
    assert gaps["score"].isna().to_numpy().nonzero()[0].tolist() == list(range(15))
    assert gaps["score"].iloc[15] == pytest.approx(0.5)
    nowcast = sector_panel([5] * 16)
    nowcast.loc[12, "births_provenance"] = "nowcast"  # nowcast births: no balance in quarters 12–15
    assert panel_scores(nowcast)["balance"].iloc[12:].isna().all()


def test_births_ramp_across_the_year_boundary_instead_of_stepping():
    # Births 400 a year in 2019 and 800 in 2020 (100 then 200 a quarter), 10 bankruptcies every quarter.
    p = sector_panel([10] * 8, births=100.0, first="2019Q1")
    p.loc[4:, "births"] = 200.0
    bal = panel_scores(p)["balance"].to_numpy()
    # four-quarter births 2019Q4..2020Q4: 400, 500, 600, 700, 800 — equal steps of 100, not one of 400
    births4 = np.exp(bal[3:]) * (40 + 1) - 1  # invert log((B + 1)/(40 + 1))
    np.testing.assert_allclose(np.diff(births4), 100.0)
    # so the balance moves at most log(501/401) ≈ 0.22 a quarter, where one quarter's balance jumped 0.69
    one_quarter = balance(p["births"], p["bankruptcies"]).to_numpy()  # log(101/11) → log(201/11) at 2020Q1
    assert np.nanmax(np.abs(np.diff(bal))) == pytest.approx(np.log(501 / 401))
    assert np.abs(np.diff(one_quarter)).max() == pytest.approx(np.log(201 / 101))


def test_scores_unchanged_when_later_quarters_arrive_and_per_sector():
    rng = np.random.default_rng(1)
    a = sector_panel(rng.integers(0, 40, 30).tolist(), sector=1)
    b = sector_panel(rng.integers(0, 400, 30).tolist(), births=2000.0, sector=2)
    both = pd.concat([a, b], ignore_index=True)
    longer = pd.concat([both, sector_panel([0, 1000, 3], sector=1, first="2022Q3")], ignore_index=True)
    assert panel_scores(both)["score"].equals(panel_scores(longer)["score"].iloc[: len(both)])
    # shuffled rows and another sector do not change a sector's scores
    alone = panel_scores(a)["score"].to_numpy()
    mixed = panel_scores(both.sample(frac=1.0, random_state=0))
    np.testing.assert_array_equal(mixed[mixed["sector"] == 1].sort_values("quarter")["score"], alone)
    assert mixed["score"].dropna().between(0, 1, inclusive="neither").all()


def test_perturbing_later_quarters_leaves_earlier_scores_identical():
    rng = np.random.default_rng(3)
    base = sector_panel(rng.integers(0, 40, 32).tolist(), births=50.0)
    later = base.copy()
    later.loc[20:, "bankruptcies"] = pd.array(rng.integers(100, 200, 12), dtype="Int64")  # quarters 20–31
    later.loc[20:, "births"] = 5.0
    a, b = panel_scores(base)["score"], panel_scores(later)["score"]
    assert a.iloc[:20].notna().sum() == 20 - 11  # quarters 11–19 are scored: the comparison is not empty
    pd.testing.assert_series_equal(a.iloc[:20], b.iloc[:20])
    assert (a.iloc[20:] != b.iloc[20:]).all()  # the perturbed quarters themselves did change


SEASON = {1: 1.3, 2: 0.9, 3: 0.7, 4: 1.1}  # bankruptcies by quarter of year: Q1 30 % above the year's mean


def seasonal_panel(seed: int = 0, sectors: int = 10) -> pd.DataFrame:
    """2011–2023, every year's births published: Poisson bankruptcies with SEASON, annual births a random walk."""
    rng = np.random.default_rng(seed)
    quarters = quarter_range("2011Q1", "2023Q4")
    rows = []
    for s in range(1, sectors + 1):
        level = 10.0 * s
        annual = 8 * level * np.exp(np.cumsum(rng.normal(0, 0.1, 13)))  # about twice the bankruptcies
        rows += [(s, q, rng.poisson(level * SEASON[quarter_of_year(q)]), annual[quarter_year(q) - 2011] / 4,
                  "published") for q in quarters]
    return pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance"])


def one_quarter_scores(panel: pd.DataFrame) -> pd.DataFrame:
    """The previous definition, for comparison: one quarter's balance ranked in the 20 quarters before."""
    out = panel.copy()
    for _, g in panel.groupby("sector"):
        b = balance(g["births"], g["bankruptcies"]).to_numpy()
        out.loc[g.index, "score"] = percentile_score(b, trailing_windows(b))
    return out


def test_seasonal_bankruptcies_make_no_seasonal_score():
    panel = seasonal_panel()
    old, new = quarter_of_year_test(one_quarter_scores(panel)), quarter_of_year_test(panel_scores(panel))
    # 13 years: old scores from quarter 8 on = 44 a sector; new ones from quarter 11 (3 + 8) on = 41
    assert (old["n"], new["n"]) == (440, 410)
    assert old["pvalue"] < 0.01 and old["means"]["Q1"] < old["means"]["Q3"]  # Q1's extra bankruptcies read bad
    assert new["pvalue"] > 0.10
    assert max(new["means"].values()) - min(new["means"].values()) < 0.05
    assert set(new) == {"pvalue", "statistic", "n", "means"} and list(new["means"]) == ["Q1", "Q2", "Q3", "Q4"]


def test_quarter_of_year_test_without_scores_is_nan():
    short = quarter_of_year_test(panel_scores(sector_panel([5] * 8)))  # no quarter has 8 earlier balances
    assert short["n"] == 0 and np.isnan(short["pvalue"]) and np.isnan(short["means"]["Q1"])


def test_score_drivers_name_the_input_that_moves():
    rng = np.random.default_rng(5)
    # births constant: the score is the bankruptcy-only percentile exactly; births alone never move (NaN)
    flat_births = score_drivers(panel_scores(sector_panel(rng.integers(5, 60, 40).tolist())))
    assert flat_births["corr_bankruptcies_only"] == pytest.approx(1.0) and np.isnan(flat_births["corr_births_only"])
    assert flat_births["n"] == 40 - 11  # scores from quarter 11 (three quarters for a balance + 8 history) on
    # bankruptcies constant, births varying from year to year: the other way round
    moving = sector_panel([10] * 40, births=100.0)
    moving["births"] = 100.0 * np.repeat(rng.uniform(0.5, 2.0, 10), 4)
    flat_bankruptcies = score_drivers(panel_scores(moving))
    assert flat_bankruptcies["corr_births_only"] == pytest.approx(1.0)
    assert np.isnan(flat_bankruptcies["corr_bankruptcies_only"])
    both = score_drivers(seasonal_panel())
    assert 0 < both["corr_bankruptcies_only"] < 1 and 0 < both["corr_births_only"] < 1 and both["n"] == 410


def test_formula_markdown_is_exported():
    assert "balance" in SCORE_FORMULA_MD and "percentile" in SCORE_FORMULA_MD and "0.5" in SCORE_FORMULA_MD
    assert "four quarters" in SCORE_FORMULA_MD
