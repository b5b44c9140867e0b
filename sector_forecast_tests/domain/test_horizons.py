"""Horizons 1–4 (issue 24): direct re-targeting, real-time training windows, horizon-1 identity, grading,
calibration per horizon and the gate's DM test with h−1 autocovariances."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sector_forecast.contracts.forecasting import PREDICTIONS_SCHEMA
from sector_forecast.contracts.validation import validate
from sector_forecast.domain import calibration, forecasters, gate, horizons
from sector_forecast.domain.features import build_features, horizon_frame
from sector_forecast.domain.periods import quarter_offset, quarter_range

ORIGIN = "2021Q2"


def count(panel: pd.DataFrame, sector: int, quarter: str) -> float:
    return float(panel.loc[(panel["sector"] == sector) & (panel["quarter"] == quarter), "bankruptcies"].iloc[0])


def test_horizon_frame_retargets_by_label(features, panel):
    assert horizon_frame(features, 1) is features  # one step: the frame itself, so h=1 fits cannot move
    frame = horizon_frame(features, 2)
    row = frame[(frame["sector"] == 4) & (frame["quarter"] == "2019Q2")].iloc[0]
    # origin 2019Q2, h = 2: target 2019Q4; the seasonal naive reads 2019Q4 − 4 = 2018Q4
    assert row["target_quarter"] == "2019Q4" and row["quarter_of_year"] == 4
    assert row["target"] == count(panel, 4, "2019Q4")
    assert row["bankruptcies_lag3"] == count(panel, 4, "2018Q4")
    assert row["log_lag0"] == features[(features["sector"] == 4) & (features["quarter"] == "2019Q2")][
        "log_lag0"].iloc[0]  # the origin's features are untouched
    h4 = horizon_frame(features, 4)  # h = 4: the target quarter a year earlier is the origin itself
    assert (h4["bankruptcies_lag3"] == h4["bankruptcies"]).all()
    last = frame[frame["quarter"] == "2023Q3"]  # 2023Q3 + 2 = 2024Q1: not in the frame, so no target
    assert last["target"].isna().all()
    with pytest.raises(ValueError, match="horizon must be one of"):
        horizon_frame(features, 5)


@pytest.mark.parametrize("h", [2, 4])
def test_training_window_ends_where_the_targets_stop_being_known(features, h):
    window = forecasters.training_window(horizon_frame(features, h), ORIGIN, h)
    # 40 quarters before 2021Q2 start at 2011Q2 (the frame starts 2012Q1); the last row's target q+h is the origin
    assert window["quarter"].min() == "2012Q1" and window["quarter"].max() == quarter_offset(ORIGIN, -h)
    assert (window["target_quarter"] <= ORIGIN).all()


@pytest.mark.parametrize("name", list(forecasters.MODELS))
def test_horizon_one_is_the_one_step_fit_exactly(features, name):
    model, one = forecasters.rolling_origin_fit(name, features, ORIGIN)
    model_h, every, validation = horizons.fit_horizons(name, features, ORIGIN)
    first = every[every["horizon"] == 1].drop(columns="horizon").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, one)
    assert model_h.summary() == model.summary()
    assert sorted(every.groupby("horizon")["target_quarter"].first().items()) == [
        (1, "2021Q3"), (2, "2021Q4"), (3, "2022Q1"), (4, "2022Q2")]
    assert validate(PREDICTIONS_SCHEMA, every) == []
    assert set(validation["horizon"]) == {1, 2, 3, 4}


def test_rule_baselines_at_each_horizon_by_hand(features, panel):
    _, naive, _ = horizons.fit_horizons("naive", features, ORIGIN)
    _, seasonal, _ = horizons.fit_horizons("seasonal_naive", features, ORIGIN)
    _, mean4, _ = horizons.fit_horizons("mean_4q", features, ORIGIN)
    pick = lambda frame, h: frame[(frame["horizon"] == h) & (frame["sector"] == 6)].iloc[0]  # noqa: E731
    for h in (1, 2, 3, 4):
        assert pick(naive, h)["prediction"] == count(panel, 6, ORIGIN)  # persistence: the origin's count
        # the target quarter a year earlier: 2021Q2 + h − 4 = 2020Q3, 2020Q4, 2021Q1, 2021Q2
        assert pick(seasonal, h)["prediction"] == count(panel, 6, quarter_offset(ORIGIN, h - 4))
        four = [count(panel, 6, quarter_offset(ORIGIN, -k)) for k in range(4)]
        assert pick(mean4, h)["prediction"] == pytest.approx(np.mean(four))
        assert pick(naive, h)["actual"] == count(panel, 6, quarter_offset(ORIGIN, h))


def test_theta_gives_its_own_multi_step_path(features, panel):
    from statsforecast.models import AutoTheta

    _, pred, _ = horizons.fit_horizons("theta", features, ORIGIN)
    y = panel[(panel["sector"] == 2) & (panel["quarter"] >= "2012Q1") & (panel["quarter"] <= ORIGIN)]
    expected = AutoTheta(season_length=4).fit(y["bankruptcies"].to_numpy(float)).predict(h=4)["mean"]
    got = pred[pred["sector"] == 2].sort_values("horizon")["prediction"].to_numpy()
    np.testing.assert_allclose(got, np.maximum(expected, 0.0))


@pytest.mark.parametrize("name", ["glm_seasonal", "xgboost"])
def test_no_horizon_sees_a_target_after_its_origin(panel, name):
    origin = "2020Q4"
    base = horizons.backtest(build_features(panel, quarter_range("2012Q1", "2023Q4")), [origin], [name])[0]
    later = panel.copy()
    later.loc[later["quarter"] > origin, "bankruptcies"] *= 5  # every count DST published after the origin
    changed = horizons.backtest(build_features(later, quarter_range("2012Q1", "2023Q4")), [origin], [name])[0]
    pd.testing.assert_series_equal(base["prediction"], changed["prediction"])
    assert not np.allclose(base["actual"], changed["actual"])  # the test can fail: the actuals did move


def test_reused_penalty_and_scales_at_later_horizons(features):
    model, _, _ = horizons.fit_horizons("glm", features, ORIGIN)
    frame = horizon_frame(features, 3)
    fixed = forecasters.fit_model("glm", forecasters.training_window(frame, ORIGIN, 3), horizon=3,
                                  params=model.params, scales=model.scales)
    assert fixed.params == model.params and fixed.scales == model.scales
    assert [t["params"] for t in fixed.tuning] == [model.params]  # one grid point: only its CV residuals
    # the CV block starting at b is fitted on quarters <= b − 3, whose targets are <= b
    assert fixed.validation_quarters == quarter_range(quarter_offset(ORIGIN, -10), quarter_offset(ORIGIN, -3))


def test_attach_actuals_grades_later_horizons_from_published_counts(panel):
    rows = pd.DataFrame({"model": "naive", "sector": [1, 1, 1], "origin": ["2023Q2"] * 3, "horizon": [1, 2, 3],
                         "target_quarter": ["2023Q3", "2023Q4", "2024Q1"], "prediction": 5.0,
                         "actual": [7.0, np.nan, np.nan], "scale": 1.0})
    out = horizons.attach_actuals(rows, panel)
    # h = 1 keeps its own actual; 2023Q4 is published in the panel; 2024Q1 is not (the panel ends 2023Q4)
    assert out["actual"].iloc[0] == 7.0 and out["actual"].iloc[1] == count(panel, 1, "2023Q4")
    assert math.isnan(out["actual"].iloc[2])


def synthetic(n_origins: int = 30) -> pd.DataFrame:
    """Two horizons of one model: one-step errors of ±1, two-step errors of ±6 (μ = 15: residual ±1/4, ±6/4)."""
    rows = []
    for i, origin in enumerate(quarter_range("2015Q1", quarter_offset("2015Q1", n_origins - 1))):
        for h, err in ((1, 1.0), (2, 6.0)):
            sign = 1 if i % 2 else -1
            rows.append({"model": "glm", "sector": 1, "origin": origin, "horizon": h, "prediction": 15.0,
                         "target_quarter": quarter_offset(origin, h), "actual": 15.0 + sign * err, "scale": 1.0})
    return pd.DataFrame(rows)


def test_intervals_are_calibrated_per_horizon_with_the_gap():
    frame = synthetic()
    out = calibration.calibrate_horizons(frame)
    pd.testing.assert_frame_equal(out[frame.columns], frame)  # rows stay in place
    last = out[out["origin"] == out["origin"].max()].set_index("horizon")
    # μ = 15, sqrt(μ+1) = 4: each horizon's own |residual| (1/4 and 6/4) × 4 is the half-width, unpooled
    assert last.loc[1, "upper80"] == pytest.approx(16.0) and last.loc[2, "upper80"] == pytest.approx(21.0)
    two = out[out["horizon"] == 2].reset_index(drop=True)
    # origin 2015Q2 (index 1): the 2-step error of origin 2015Q1 targets 2015Q3 > 2015Q2, so nothing is known yet
    assert two.loc[1, "calibration80"] == "none" and math.isinf(two.loc[1, "upper80"])
    # at origin o only the errors of origins <= o − 2 are graded: index 5 (2016Q2) knows origins 0..3, four of them
    assert two.loc[5, "calibration80"] == "sector"


def test_gate_per_horizon_uses_the_horizons_autocovariances():
    rng = np.random.default_rng(11)
    rows = []
    for origin in quarter_range("2012Q1", "2021Q4"):
        for model, bias in (("naive", 3.0), ("glm", 2.0)):
            for h in (1, 3):
                rows.append({"model": model, "sector": 1, "origin": origin, "horizon": h, "actual": 20.0,
                             "prediction": 20.0 + bias + float(rng.normal(0, 2)), "scale": 2.0,
                             "target_quarter": quarter_offset(origin, h)})
    frame = pd.DataFrame(rows)
    verdicts = horizons.gates(frame, baselines=("naive",))
    pairs = gate.paired_losses(frame[frame["horizon"] == 3], "glm", "naive")
    assert verdicts[3].statistic == pytest.approx(gate.dm_test(pairs["a"], pairs["b"], h=3)[0])
    assert verdicts[3].statistic != pytest.approx(gate.dm_test(pairs["a"], pairs["b"], h=1)[0])
    assert verdicts[1].statistic == pytest.approx(gate.promotion_gate(frame[frame["horizon"] == 1],
                                                                      ("naive",)).statistic)


def test_dm_hln_hand_example_h3():
    d = np.array([-3.0, -1.0, 0.0, -2.0, -4.0])
    # d̄ = −2, centred c = [−1, 1, 2, 0, −2], T = 5: γ0 = (1+1+4+0+4)/5 = 2,
    # γ1 = (c1c0 + c2c1 + c3c2 + c4c3)/5 = (−1 + 2 + 0 + 0)/5 = 0.2, γ2 = (c2c0 + c3c1 + c4c2)/5 = (−2 + 0 − 4)/5 = −1.2
    # V = (2 + 2·(0.2 − 1.2))/5 = 0 <= 0, so γ0 alone: V = 2/5 → DM = −2/sqrt(0.4) = −sqrt(10);
    # HLN = sqrt((5 + 1 − 6 + 3·2/5)/5) = sqrt(0.24) → DM* = −sqrt(2.4)
    statistic, pvalue = gate.dm_test(d, np.zeros(5), h=3)
    assert statistic == pytest.approx(-math.sqrt(2.4))
    assert pvalue == pytest.approx(stats.t.cdf(-math.sqrt(2.4), 4))
