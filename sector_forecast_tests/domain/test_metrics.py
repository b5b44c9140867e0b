"""Metrics on hand-computed examples, conformal quantiles and the champion choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.metrics import choose_champion, conformal_interval, leaderboard


def preds(model, prediction, actual=(0.5, 0.7), current=(0.4, 0.6), sectors=(1, 2), width=0.1):
    p = np.asarray(prediction, dtype=float)
    return pd.DataFrame(
        {
            "model": model,
            "sector": list(sectors),
            "quarter": "2022Q1",
            "origin": "2022Q1",
            "target_quarter": "2022Q2",
            "prediction": p,
            "lower": p - width,
            "upper": p + width,
            "actual": list(actual),
            "current_score": list(current),
        }
    )


def test_hand_computed_leaderboard():
    frame = pd.concat(
        [
            preds("seasonal_naive", [0.3, 0.9]),  # errors 0.2, 0.2
            preds("ridge", [0.45, 0.8], width=0.15),  # errors 0.05, 0.1; directions: up/up vs actual up/up
            preds("naive", [0.4, 0.6]),  # no change predicted: directional 0
        ]
    )
    overall, per_sector = leaderboard(frame)
    o = overall.set_index("model")
    assert list(overall["model"]) == ["ridge", "naive", "seasonal_naive"]  # naive MAE 0.1 < 0.2
    assert list(overall["rank"]) == [1, 2, 3]
    assert o.loc["ridge", "mae"] == pytest.approx(0.075)
    assert o.loc["ridge", "rmse"] == pytest.approx(np.sqrt((0.05**2 + 0.1**2) / 2))
    assert o.loc["ridge", "mase"] == pytest.approx(0.075 / 0.2)
    assert o.loc["seasonal_naive", "mase"] == pytest.approx(1.0)
    assert o.loc["ridge", "directional_accuracy"] == 1.0
    assert o.loc["naive", "directional_accuracy"] == 0.0
    assert o.loc["seasonal_naive", "directional_accuracy"] == 0.5  # down (wrong), up (right)
    assert o.loc["ridge", "coverage"] == 1.0 and o.loc["seasonal_naive", "coverage"] == 0.0
    assert o.loc["ridge", "n"] == 2
    ps = per_sector.set_index(["sector", "model"])
    assert ps.loc[(2, "ridge"), "mase"] == pytest.approx(0.1 / 0.2)


def test_mase_uses_only_pairs_both_forecast_and_unknown_actuals_ignored():
    base = preds("seasonal_naive", [0.3], actual=[0.5], current=[0.4], sectors=[1])
    model = preds("ridge", [0.5, 0.8], actual=[0.5, 0.7], current=[0.4, 0.6], sectors=[1, 2])
    future = preds("ridge", [0.9], actual=[np.nan], current=[0.6], sectors=[3])
    overall, _ = leaderboard(pd.concat([base, model, future]))
    r = overall.set_index("model").loc["ridge"]
    assert r["n"] == 2 and r["mae"] == pytest.approx(0.05)
    assert r["mase"] == pytest.approx(0.0)  # sector 1 only: 0.0 / 0.2


def test_directional_ties():
    flat = preds("ridge", [0.4], actual=[0.4], current=[0.4], sectors=[1])
    overall, _ = leaderboard(flat)
    assert overall.loc[0, "directional_accuracy"] == 1.0  # both "no change": a hit
    assert np.isnan(overall.loc[0, "mase"])  # no seasonal-naive rows


def test_conformal_interval():
    res = np.array([0.1, -0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9])
    # n=9, coverage 0.8: k = ceil(10 * 0.8) = 8, the 8th smallest |r| = 0.8
    assert conformal_interval(res, 0.8) == pytest.approx(0.8)
    assert conformal_interval([0.1, 0.2], 0.9) == 1.0  # too few residuals: the whole range
    assert conformal_interval([], 0.8) == 1.0
    with pytest.raises(ValueError):
        conformal_interval(res, 1.2)


def test_champion_both_ways():
    good = pd.concat([preds("seasonal_naive", [0.3, 0.9]), preds("ridge", [0.45, 0.6])])
    model, beats, reason = choose_champion(leaderboard(good)[0])
    assert (model, beats) == ("ridge", True) and "beats seasonal_naive" in reason
    bad = pd.concat([preds("seasonal_naive", [0.45, 0.6]), preds("xgboost", [0.3, 0.9])])
    model, beats, reason = choose_champion(leaderboard(bad)[0])
    assert (model, beats) == ("seasonal_naive", False) and "xgboost" in reason
    with pytest.raises(ValueError):
        choose_champion(leaderboard(bad.assign(actual=np.nan))[0])
