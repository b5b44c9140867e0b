"""The vitality score: balance, the trailing mid-rank percentile and its leak-free behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.periods import quarter_range
from sector_forecast.domain.score import (
    SCORE_FORMULA_MD,
    SCORE_MIN_HISTORY,
    SCORE_WINDOW,
    balance,
    entry_share,
    panel_scores,
    percentile_score,
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


def test_panel_score_half_at_the_median_and_nan_with_short_history():
    # 9 history quarters with bankruptcies 1..9 (births fixed) then one at the median 5
    p = panel_scores(sector_panel([1, 2, 3, 4, 5, 6, 7, 8, 9, 5]))
    assert p["score"].iloc[:SCORE_MIN_HISTORY].isna().all()  # fewer than 8 earlier quarters
    assert p["score"].iloc[-1] == pytest.approx(0.5)
    # quarter 9 (bankruptcies 9, the worst balance) against 8 better ones: (0 + ½)/9
    assert p["score"].iloc[8] == pytest.approx(0.5 / 9)
    assert p["balance"].iloc[0] == pytest.approx(np.log(400 / 2))  # log((399 + 1)/(1 + 1))
    assert p["entry_share"].iloc[0] == pytest.approx(400 / 402)  # (399 + 1)/(399 + 1 + 2)


def test_window_is_twenty_quarters_and_gaps_do_not_count():
    counts = [100] * 5 + [1] * SCORE_WINDOW + [50]
    p = panel_scores(sector_panel(counts))
    # the last quarter sees only the 20 quarters of 1 bankruptcy (the 100s are > 20 quarters back): worst
    assert p["score"].iloc[-1] == pytest.approx(0.5 / 21)
    gaps = sector_panel([5] * 12)
    gaps.loc[[3, 4, 5, 6], "bankruptcies"] = pd.NA  # suppressed quarters
    gaps.loc[2, "births_provenance"] = "nowcast"  # nowcast births: no balance
    scored = panel_scores(gaps)
    assert scored["balance"].iloc[2:7].isna().all()
    assert scored["score"].isna().all()  # at most 12 − 5 − 1 = 6 earlier balances < 8


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


def test_formula_markdown_is_exported():
    assert "balance" in SCORE_FORMULA_MD and "percentile" in SCORE_FORMULA_MD and "0.5" in SCORE_FORMULA_MD
