"""The monitors' statistics on hand-built inputs whose answers can be worked out on paper."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sector_forecast.domain import drift, hypothesis
from sector_forecast.domain.periods import quarter_range


def test_benjamini_hochberg_steps_up_and_skips_untested() -> None:
    # Thresholds k·0.05/4 = .0125, .025, .0375, .05: only 0.01 is below its threshold.
    assert hypothesis.benjamini_hochberg([0.01, 0.04, 0.03, 0.20], 0.05).tolist() == [True, False, False, False]
    # 0.01 ≤ .0125, 0.02 ≤ .025, 0.03 ≤ .0375: three rejections.
    assert hypothesis.benjamini_hochberg([0.5, 0.03, 0.02, 0.01], 0.05).tolist() == [False, True, True, True]
    # Step-up: the 4th p-value 0.04 ≤ 4·0.05/4, so all four go (Bonferroni, 0.0125 each, would reject none).
    assert hypothesis.benjamini_hochberg([0.04] * 4, 0.05).all()
    # NaN is not a test: with one real test the threshold is the level itself.
    assert hypothesis.benjamini_hochberg([np.nan, 0.04], 0.05).tolist() == [False, True]
    assert not hypothesis.benjamini_hochberg([np.nan], 0.05).any()


def test_prediction_interval_test() -> None:
    # history 1..5: mean 3, sd sqrt(2.5); value 6: t = 3 / (sqrt(2.5)·sqrt(1 + 1/5)) = 3 / sqrt(3) = sqrt(3).
    t, p = hypothesis.prediction_interval_test(np.array([1, 2, 3, 4, 5, np.nan]), 6.0)
    assert t == pytest.approx(math.sqrt(3))
    assert p == pytest.approx(2 * stats.t.sf(math.sqrt(3), 4))
    assert hypothesis.prediction_interval_test(np.array([2.0, 2.0]), 2.0) == (0.0, 1.0)
    assert hypothesis.prediction_interval_test(np.array([2.0, 2.0]), 3.0) == (math.inf, 0.0)
    assert all(math.isnan(v) for v in hypothesis.prediction_interval_test(np.array([1.0]), 3.0))


def test_conformal_pvalue_and_the_smallest_testable_reference() -> None:
    # reference 1..4: one value ≥ 3.5 → (1+1)/5; none ≥ 5 → 1/5; all ≥ 1 → 5/5.
    assert hypothesis.conformal_pvalue([1, 2, 3, 4], 3.5) == pytest.approx(0.4)
    assert hypothesis.conformal_pvalue([1, 2, 3, 4], 5) == pytest.approx(0.2)
    assert hypothesis.conformal_pvalue([1, 2, 3, 4], 1) == pytest.approx(1.0)
    # 1/(n+1) ≤ 0.05 needs n ≥ 19; ≤ 0.1 needs n ≥ 9.
    assert (hypothesis.min_reference(0.05), hypothesis.min_reference(0.1)) == (19, 9)


QUARTERS = quarter_range("2009Q1", "2012Q1")  # 12 history quarters + the monitored 2012Q1


def panel(sector10_last: float, all_factor: float = 1.0) -> pd.DataFrame:
    """Sector s has 10·s bankruptcies; sector 10's log1p alternates ±0.1 around log(101) over the history.

    The median over sectors, mean(log 51, log 61), never moves (sector 10 stays the largest), so sector 10's
    relative log count has history mean log(101) − median and sd 0.1·sqrt(12/11); every other sector's is
    constant (sd 0).
    """
    rows = []
    for i, q in enumerate(QUARTERS):
        for s in range(1, 11):
            y = 10.0 * s
            if s == 10:
                y = math.exp(math.log(101) + (0.1 if i % 2 else -0.1)) - 1 if i < 12 else sector10_last
            rows.append({"sector": s, "quarter": q, "bankruptcies": y * (all_factor if i == 12 else 1.0)})
    return pd.DataFrame(rows)


def test_data_drift_flags_only_the_tripled_sector() -> None:
    result = drift.data_drift(panel(sector10_last=3 * 101 - 1), "2012Q1")
    table = result.table.set_index("hypothesis")
    # x − mean = log(303) − log(101) = log 3; t = log 3 / (0.1·sqrt(12/11)·sqrt(13/12)) = 10·log 3 / sqrt(13/11).
    assert table.loc["sector 10", "t_stat"] == pytest.approx(10 * math.log(3) / math.sqrt(13 / 11))
    assert table.loc["sector 10", "n_history"] == 12
    # The other nine and the common level did not move: t = 0, p = 1.
    assert (table.drop("sector 10")["p_value"] == 1.0).all()
    assert result.alarm and table.index[table["rejected"]].tolist() == ["sector 10"] and not result.common_alarm
    assert "1 of 10 sectors rejected" in result.summary and result.to_dict()["rejected"] == ["sector 10"]
    assert "common level p = 1.000 > 0.05" in result.summary


def test_data_drift_is_quiet_inside_the_history_range() -> None:
    # Sector 10 one step up (+0.1): t = 0.1 / (0.1·sqrt(13/11)) = 0.92, p ≈ 0.38.
    result = drift.data_drift(panel(sector10_last=math.exp(math.log(101) + 0.1) - 1), "2012Q1")
    row = result.table.set_index("hypothesis").loc["sector 10"]
    assert row["t_stat"] == pytest.approx(1 / math.sqrt(13 / 11))
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(1 / math.sqrt(13 / 11), 11))
    assert not result.alarm


def test_a_shock_to_every_sector_is_the_common_level_monitor() -> None:
    # Every sector ×4 in 2012Q1 (sector 10 too): the median jumps by about log 4. (The sectors' relative values
    # move a little too, log1p(4y) − log1p(y) not being exactly log 4, against a history of sd 0.)
    result = drift.data_drift(panel(sector10_last=101 * 1.0 - 1, all_factor=4.0), "2012Q1")
    rejected = result.table.loc[result.table["rejected"], "hypothesis"].tolist()
    assert drift.COMMON in rejected and result.common_alarm


def common_panel(last: float) -> pd.DataFrame:
    """Sector s has log1p = log(10·s + 1) + c[t]: c alternates ±0.1 over the 12 history quarters, then ``last``.

    Every relative value is constant (p = 1); the common level is the sectors' median plus c, so its
    history has mean 0 and sd 0.1·sqrt(12/11), as sector 10's in ``panel``.
    """
    c = [0.1 if i % 2 else -0.1 for i in range(12)] + [last]
    return pd.DataFrame([{"sector": s, "quarter": q, "bankruptcies": math.exp(math.log(10 * s + 1) + c[i]) - 1}
                         for i, q in enumerate(QUARTERS) for s in range(1, 11)])


def test_the_common_level_is_tested_at_the_level_not_inside_the_sectors_bh_family() -> None:
    # last = 0.25·sqrt(13/11): t = last / (0.1·sqrt(12/11)·sqrt(13/12)) = 2.5, two-sided p with 11 df ≈ 0.030.
    result = drift.data_drift(common_panel(0.25 * math.sqrt(13 / 11)), "2012Q1")
    common = result.table.set_index("hypothesis").loc[drift.COMMON]
    assert common["t_stat"] == pytest.approx(2.5) and common["p_value"] == pytest.approx(2 * stats.t.sf(2.5, 11))
    # 0.030 ≤ 0.05: the common level alarms on its own. As the eleventh hypothesis of one BH family with ten
    # sectors at p = 1 it would have needed p ≤ 0.05/11 = 0.0045 and stayed silent.
    assert result.common_alarm and not result.alarm and common["bh_threshold"] == 0.05
    assert not hypothesis.benjamini_hochberg([1.0] * 10 + [common["p_value"]], 0.05).any()
    # t = 2.0 (p ≈ 0.071): quiet.
    assert not drift.data_drift(common_panel(0.2 * math.sqrt(13 / 11)), "2012Q1").common_alarm


def test_data_drift_reads_only_the_window_and_skips_short_or_suppressed_history() -> None:
    frame = panel(sector10_last=3 * 101 - 1)
    later = frame.assign(quarter="2013Q1", bankruptcies=1e6)  # a later quarter must not change anything
    same = drift.data_drift(pd.concat([frame, later]), "2012Q1")
    pd.testing.assert_frame_equal(same.table, drift.data_drift(frame, "2012Q1").table)
    short = drift.data_drift(frame[frame["quarter"] >= "2010Q2"], "2012Q1")  # 7 history quarters < 8
    assert short.table["p_value"].isna().all() and not short.alarm and "not testable" in short.summary
    suppressed = frame.astype({"bankruptcies": "Float64"})
    suppressed.loc[(suppressed["sector"] == 10) & (suppressed["quarter"] == "2012Q1"), "bankruptcies"] = pd.NA
    result = drift.data_drift(suppressed, "2012Q1").table.set_index("hypothesis")
    assert math.isnan(result.loc["sector 10", "p_value"]) and math.isnan(result.loc[drift.COMMON, "p_value"])


def backtest(n_quarters: int = 10) -> pd.DataFrame:
    """μ = 8 (sqrt(μ+1) = 3), actual = 8 + 3r: Pearson residuals ±1 (sector 1) and ±2 (sector 2), alternating."""
    rows = []
    for i, q in enumerate(quarter_range("2015Q1", "2017Q2")[:n_quarters]):
        sign = 1 if i % 2 == 0 else -1
        rows += [{"sector": 1, "target_quarter": q, "prediction": 8.0, "actual": 8.0 + 3 * sign},
                 {"sector": 2, "target_quarter": q, "prediction": 8.0, "actual": 8.0 + 6 * sign}]
    return pd.DataFrame(rows)


def current(r1: float) -> pd.DataFrame:
    return pd.DataFrame({"sector": [1, 2], "prediction": [8.0, 8.0], "actual": [8.0 + 3 * r1, 8.0 - 6.0]})


def test_performance_degradation_ranks_the_standardised_error_among_earlier_quarters() -> None:
    # With min_residuals=2 quarters 3..10 have scales (RMS 1 and 2 exactly): 8 earlier statistics, all z² = 1.
    # The current quarter: sector 1 residual 3 → z = 3, z² = 9; sector 2 −2/2 → 1. Max 9 > all 8: p = 1/9.
    result = drift.performance_degradation(backtest(), current(r1=3.0), "2017Q3", level=0.2, min_residuals=2)
    assert result.n_reference == 8 and result.reference.tolist() == [1.0] * 8
    assert result.statistic == pytest.approx(9.0) and result.p_value == pytest.approx(1 / 9)
    assert result.testable and result.alarm  # 8 ≥ min_reference(0.2) = 4 and 1/9 ≤ 0.2
    assert result.table["residual_scale"].tolist() == pytest.approx([1.0, 2.0])
    assert result.table["z"].tolist() == pytest.approx([3.0, -1.0])
    assert "sector 1" in result.summary


def test_performance_is_quiet_when_errors_are_usual_and_untestable_with_short_history() -> None:
    # z² = 1 ties all 8 earlier ones: p = (1 + 8)/9 = 1.
    usual = drift.performance_degradation(backtest(), current(r1=1.0), "2017Q3", level=0.2, min_residuals=2)
    assert usual.p_value == pytest.approx(1.0) and not usual.alarm
    # At the 5% level 8 earlier quarters cannot give p ≤ 0.05 (the smallest is 1/9): not testable, no alarm.
    short = drift.performance_degradation(backtest(), current(r1=3.0), "2017Q3", level=0.05, min_residuals=2)
    assert not short.testable and not short.alarm and "not testable yet" in short.summary


def test_performance_reads_only_targets_before_the_quarter() -> None:
    # The backtest also holds 2017Q3 itself and later rows with huge errors: they must not enter the reference.
    full = pd.concat([backtest(), backtest().assign(target_quarter="2017Q3", actual=500.0)], ignore_index=True)
    result = drift.performance_degradation(full, current(r1=3.0), "2017Q3", level=0.2, min_residuals=2)
    assert result.n_reference == 8 and result.p_value == pytest.approx(1 / 9)


def test_drift_summary_rates_each_monitor_over_the_quarters_it_could_test() -> None:
    untested = {"tests": [{"hypothesis": "all sectors", "p_value": None}]}
    reports = {
        "a": {"quarter": "2022Q1", "flags": {"data_drift": False, "performance_degradation": False}},
        "b": {"quarter": "2019Q4", "flags": {"data_drift": True, "performance_degradation": False},
              "performance": {"testable": False}},
        "c": {"quarter": "2020Q2", "flags": {"data_drift": False, "performance_degradation": True}},
        "d": {"quarter": "2022Q2", "flags": {"data_drift": False, "degraded": True},  # older reports' key
              "data_drift": untested},
        "e": {"quarter": "2023Q1", "flags": {"data_drift": False, "common_level": True,
                                             "performance_degradation": False},
              "data_drift": {"tests": [{"hypothesis": "sector 1", "p_value": 0.5},
                                       {"hypothesis": "all sectors", "p_value": 0.01}]}},
    }
    summary = drift.drift_summary(reports)
    assert summary["quarters"] == 5 and summary["alarms"] == ["2019Q4", "2020Q2", "2022Q2", "2023Q1"]
    assert summary["excluded"] == ["2020Q2"] and summary["false_alarms"] == ["2019Q4", "2022Q2", "2023Q1"]
    assert summary["false_alarm_rate_any"] == pytest.approx(3 / 4)  # 3 alarms in the 4 quarters outside 2020–21
    rates = summary["false_alarm_rate"]
    # Data drift tested 2019Q4, 2022Q1 and 2023Q1 (2022Q2 had no p-value): 1 alarm (2019Q4) in 3.
    assert rates["data_drift"] == {"rate": 1 / 3, "alarms": 1, "quarters": 3, "first_quarter": "2019Q4"}
    # The common level is its own monitor only in reports that carry its flag: 2023Q1, 1 alarm in 1.
    assert rates["common_level"] == {"rate": 1.0, "alarms": 1, "quarters": 1, "first_quarter": "2023Q1"}
    # Performance testable in 2022Q1, 2022Q2 and 2023Q1 (not 2019Q4): 1 alarm (2022Q2) in 3.
    assert rates["performance_degradation"] == {"rate": 1 / 3, "alarms": 1, "quarters": 3, "first_quarter": "2022Q1"}
    assert summary["data_drift_alarms"] == ["2019Q4"] and summary["performance_alarms"] == ["2020Q2", "2022Q2"]
    assert summary["common_level_alarms"] == ["2023Q1"] and summary["nominal_false_alarm_rate"] == 0.15
    empty = drift.drift_summary([])
    assert empty["false_alarm_rate_any"] is None and empty["false_alarm_rate"]["data_drift"]["rate"] is None
    assert len(drift.KNOWN_SHIFTS) == 8 and drift.KNOWN_SHIFTS[0] == "2020Q1"


def test_performance_says_why_it_cannot_judge() -> None:
    none = drift.performance_degradation(backtest(), current(1.0).iloc[0:0], "2017Q3", level=0.2, min_residuals=2)
    assert "no forecast" in none.summary and not none.alarm
    unpublished = current(1.0).assign(actual=np.nan)
    assert "no published count" in drift.performance_degradation(backtest(), unpublished, "2017Q3").summary
    # 10 graded quarters < 12 residuals needed for a scale: nothing to standardise with.
    short = drift.performance_degradation(backtest(), current(3.0), "2017Q3", level=0.2, min_residuals=12)
    assert "not testable yet" in short.summary and math.isnan(short.statistic) and not short.testable
