"""The monitors out of sample: array versions equal the per-quarter ones, null panels, the detection grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts.monitoring import MONITOR_EVALUATION_SCHEMA
from sector_forecast.domain import drift, monitoreval
from sector_forecast.domain import monitorgrid as mg
from sector_forecast.domain import monitorvec as mv
from sector_forecast.domain import nullmodel as nm
from sector_forecast.domain.periods import quarter_range

QUARTERS = quarter_range("2009Q1", "2026Q3")  # the bundled calendar: 71 quarters
S = 10


def null(common_sd: float = 0.0, sector_sd: float = 0.0, phi: float = 0.0, mean: float = 60.0) -> nm.NullModel:
    """A null model with given parameters: ``mean`` a quarter in every sector, no seasonality."""
    return nm.NullModel(tuple(range(1, S + 1)), np.full((4, S), np.log(mean)), phi, common_sd,
                        np.full(S, phi), np.full(S, sector_sd))


def long_form(counts: np.ndarray) -> pd.DataFrame:
    """One panel ``(T, S)`` as ``sector, quarter, bankruptcies`` rows."""
    frame = pd.DataFrame(counts, index=QUARTERS[: len(counts)], columns=range(1, S + 1))
    return frame.rename_axis("quarter").reset_index().melt("quarter", var_name="sector", value_name="bankruptcies")


def test_array_data_drift_equals_the_per_quarter_test() -> None:
    counts, _ = nm.simulate(null(0.1, 0.1, 0.5), 1, "2009Q1", 40, seed=1)
    panel = counts[0].copy()
    panel[20, 3] = np.nan  # a suppressed count: sector 4 untested then, and no common level that quarter
    rejected, _ = mv.data_drift_rejections(panel, 0.05, drift.HISTORY_QUARTERS, drift.MIN_HISTORY)
    p = mv.window_pvalues(mv.drift_series(panel), drift.HISTORY_QUARTERS, drift.MIN_HISTORY)
    rows = long_form(panel)
    for t in (8, 12, 20, 21, 39):
        result = drift.data_drift(rows, QUARTERS[t])
        np.testing.assert_allclose(p[t], result.table["p_value"].to_numpy(dtype=float), rtol=1e-7, equal_nan=True)
        assert rejected[t].tolist() == result.table["rejected"].tolist()


def test_array_performance_equals_the_per_quarter_test() -> None:
    counts, mu = nm.simulate(null(0.1, 0.1, 0.5), 1, "2009Q1", 45, seed=2)
    y, m = counts[0], mu[0]
    alarm, testable, sector = mv.performance_alarms(y, m, 0.05, drift.MIN_SCALE_RESIDUALS)
    stat, _ = mv.performance_statistics(y, m, drift.MIN_SCALE_RESIDUALS)
    p, _ = mv.rank_pvalues(stat)
    rows = long_form(y).assign(prediction=long_form(m)["bankruptcies"]).rename(columns={"bankruptcies": "actual"})
    backtest = rows.rename(columns={"quarter": "target_quarter"})
    for t in (10, 30, 44):
        current = rows[rows["quarter"] == QUARTERS[t]]
        result = drift.performance_degradation(backtest, current, QUARTERS[t])
        assert stat[t] == pytest.approx(result.statistic) and p[t] == pytest.approx(result.p_value)
        assert (testable[t], alarm[t]) == (result.testable, result.alarm)
        assert sector[t] + 1 == int(result.table.loc[result.table["z"].pow(2).idxmax(), "sector"])


def test_null_panels_are_seeded_and_fit_what_they_were_drawn_from() -> None:
    truth = null(common_sd=0.12, sector_sd=0.08, phi=0.6, mean=150.0)
    a, mu_a = nm.simulate(truth, 3, "2009Q1", 71, seed=5)
    b, mu_b = nm.simulate(truth, 3, "2009Q1", 71, seed=5)
    assert np.array_equal(a, b) and np.array_equal(mu_a, mu_b, equal_nan=True)
    assert not np.array_equal(a, nm.simulate(truth, 3, "2009Q1", 71, seed=6)[0])
    assert np.isnan(mu_a[:, 0]).all() and np.isfinite(mu_a[:, 1:]).all()
    # Refitted on one long panel (2000 quarters) the parameters come back: φ 0.6 and σ_c 0.12 within sampling error.
    long, _ = nm.simulate(truth, 1, "2009Q1", 2000, seed=7)
    fitted = nm.fit_null_model(pd.DataFrame(long[0], index=quarter_range("1500Q1", "1999Q4")))
    assert fitted.common_phi == pytest.approx(0.6, abs=0.08) and fitted.common_sd == pytest.approx(0.12, abs=0.02)
    assert np.exp(fitted.base).mean() == pytest.approx(150.0, rel=0.1)


def test_valid_tests_on_pure_null_data_alarm_at_most_their_level() -> None:
    # Independent quarters (φ = 0) with a little over-dispersion: the t-test, BH and the rank test are valid,
    # so each monitor's false-alarm rate is ≤ 5% (+ 1.5 points for sampling: ~9,000–15,000 quarters).
    model = null(common_sd=0.05, sector_sd=0.05)
    table, _, _ = monitoreval.simulated_false_alarms(model, QUARTERS, 12, 13, (0.05, 0.05), panels=300, seed=3)
    rates = table.set_index("monitor")["rate"]
    assert rates["data_drift"] <= 0.065 and rates["performance_degradation"] <= 0.065, table
    assert rates["performance_degradation"] > 0.02  # it does speak: the rank test is exact, not silent


def test_a_large_shift_is_detected_and_only_the_shifted_sectors_alarm_counts() -> None:
    counts, mu = nm.simulate(null(0.03, 0.03, mean=200.0), 2, "2009Q1", 50, seed=11)
    grid = mg.detection_grid(counts, mu, [40, 45], (0.05, 0.05), drift.HISTORY_QUARTERS, drift.MIN_HISTORY,
                             drift.MIN_SCALE_RESIDUALS)
    assert len(grid) == 2 * 2 * (S + 1) * 3 * 3  # panels × starts × (sectors + all) × factors × positions
    # ×3 is log 3 = 1.1 against a log-scale noise of ~0.08: every sector, every start month, within two quarters.
    assert grid.loc[grid["factor"] == 3.0, "detected"].all()
    # Noisier panels (a log-scale sd of ~0.2), where ×1.5 (log 0.41) is rarely detected, and sector 5 (index 4)
    # with a tenfold spike in quarters 40 and 41: both monitors alarm on it there, but a ×1.5 shift of another
    # sector starting in quarter 40 counts only when that sector's own alarm rings.
    counts, mu = nm.simulate(null(0.1, 0.15, mean=60.0), 4, "2009Q1", 50, seed=12)
    spiked = counts.copy()
    spiked[:, 40:42, 4] *= 10
    rejected, _ = mv.data_drift_rejections(spiked, 0.05, drift.HISTORY_QUARTERS, drift.MIN_HISTORY)
    assert rejected[:, 40, 4].all()  # an alarm in the start quarter of every panel
    others = mg.detection_grid(spiked, mu, [40], (0.05, 0.05), drift.HISTORY_QUARTERS, drift.MIN_HISTORY,
                               drift.MIN_SCALE_RESIDUALS)
    one = others[(others["sector"] != 4) & (others["sector"] != mg.ALL) & (others["factor"] == 1.5)]
    assert one["detected"].mean() < 0.5, one["detected"].mean()
    assert others.loc[others["sector"] == 4, "detected"].all()


def test_evaluate_monitors_is_seeded_checked_and_summarised() -> None:
    counts, mu = nm.simulate(null(0.1, 0.08, 0.5, mean=80.0), 1, "2009Q1", 71, seed=13)
    rows = long_form(counts[0])
    champion = long_form(mu[0]).rename(columns={"quarter": "target_quarter", "bankruptcies": "prediction"})
    champion.loc[champion["target_quarter"] < "2012Q2", "prediction"] = np.nan  # first target: 2012Q2
    first = monitoreval.evaluate_monitors(rows, champion, "2012Q1")
    again = monitoreval.evaluate_monitors(rows, champion, "2012Q1")
    pd.testing.assert_frame_equal(first.grid, again.grid)
    pd.testing.assert_frame_equal(first.simulated, again.simulated)
    MONITOR_EVALUATION_SCHEMA.validate(first.grid)
    # Shifts start where the rank test has 19 earlier statistics (scales need 8 residuals: targets from
    # 2012Q2 + 8 = 2014Q2, + 19 = 2019Q1), outside 2020–21, and where the next quarter exists.
    starts = sorted(set(first.grid["start"]))
    assert starts[0] == "2019Q1" and "2019Q4" not in starts and starts[-1] == "2026Q2"
    summary = monitoreval.evaluation_summary(first.to_value())
    assert set(summary["false_alarm_rate_simulated"]) == set(monitoreval.MONITORS)
    assert summary["false_alarm_rate_simulated"]["data_drift"]["panels"] == monitoreval.SIM_PANELS
    assert set(summary["detection"]) >= {"1.5", "2", "3", "all_sectors"}
    assert summary["detection"]["3"] >= summary["detection"]["1.5"]
    assert monitoreval.evaluation_summary(None) == {}


def test_a_short_history_gives_an_empty_grid_not_an_error() -> None:
    # 2009Q1..2018Q4 with forecasts from 2012Q2: the rank test needs targets through 2019Q1 to speak, so no
    # quarter can start a shift; the simulated false alarms are still measured.
    counts, mu = nm.simulate(null(0.1, 0.08, 0.5, mean=80.0), 1, "2009Q1", 40, seed=17)
    champion = long_form(mu[0]).rename(columns={"quarter": "target_quarter", "bankruptcies": "prediction"})
    champion.loc[champion["target_quarter"] < "2012Q2", "prediction"] = np.nan
    result = monitoreval.evaluate_monitors(long_form(counts[0]), champion, "2012Q1")
    assert result.grid.empty and list(result.grid.columns) == mg.GRID_COLUMNS
    MONITOR_EVALUATION_SCHEMA.validate(result.grid)
    summary = monitoreval.evaluation_summary(result.to_value())
    assert summary["detection"]["scenarios"] == 0 and summary["detection"]["start_quarters"] == []
    assert summary["false_alarm_rate_simulated"]["data_drift"]["quarters"] == 200 * (40 - 12)
    assert summary["false_alarm_rate_simulated"]["performance_degradation"]["rate"] is None  # nothing testable
