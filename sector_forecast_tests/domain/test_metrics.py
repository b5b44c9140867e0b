"""Leaderboard metrics on a hand-computed example, and the MASE scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.metrics import LEADERBOARD_COLUMNS, leaderboard, score_scale, seasonal_scale

COLUMNS = ["model", "sector", "origin", "target_quarter", "prediction", "actual", "current", "scale",
           "lower80", "upper80", "lower95", "upper95"]


def calibrated() -> pd.DataFrame:
    inf = math.inf
    rows = [
        ("glm", 1, "2020Q1", "2020Q2", 10.0, 12.0, 11.0, 2.0, 8.0, 11.0, 6.0, 14.0),
        ("glm", 2, "2020Q1", "2020Q2", 100.0, 90.0, 95.0, 20.0, 85.0, 115.0, 80.0, 120.0),
        ("glm", 1, "2020Q2", "2020Q3", 10.0, np.nan, 12.0, 2.0, 8.0, 11.0, 6.0, 14.0),  # not graded yet
        ("naive", 1, "2020Q1", "2020Q2", 14.0, 12.0, 11.0, 2.0, 0.0, inf, 0.0, inf),  # uncalibrated
        ("naive", 2, "2020Q1", "2020Q2", 60.0, 90.0, 95.0, 20.0, 50.0, 70.0, 40.0, 80.0),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_hand_computed_leaderboard():
    overall, per_sector = leaderboard(calibrated())
    assert list(overall.columns) == LEADERBOARD_COLUMNS
    assert list(overall["model"]) == ["glm", "naive"] and list(overall["rank"]) == [1, 2]
    g, n = overall.set_index("model").loc["glm"], overall.set_index("model").loc["naive"]
    # glm: |e| = 2 (scale 2) and 10 (scale 20) → MAE 6, RMSE sqrt((4 + 100)/2), MASE (1 + 0.5)/2
    assert (g["n"], g["origins"]) == (2, 1)
    assert g["mae"] == pytest.approx(6.0) and g["rmse"] == pytest.approx(np.sqrt(52.0))
    assert g["mase"] == pytest.approx(0.75)
    # 80 %: [8, 11] misses 12 by 1 → Winkler 3 + (2/0.2)·1 = 13, /2 = 6.5; [85, 115] holds 90 → 30/20 = 1.5
    assert g["coverage80"] == 0.5 and g["coverage95"] == 1.0
    assert g["interval_score"] == pytest.approx(4.0) and g["width80"] == pytest.approx(16.5)
    # naive: |e| = 2 and 30 → MASE (1 + 1.5)/2; its sector-1 interval is [0, inf): left out of interval
    # metrics; sector 2 [50, 70] misses 90 by 20 → (20 + 10·20)/20 = 11
    assert n["mase"] == pytest.approx(1.25) and n["rmse"] == pytest.approx(np.sqrt(452.0))
    assert n["n_interval"] == 1 and n["coverage80"] == 0.0 and n["interval_score"] == pytest.approx(11.0)
    assert (overall["target"] == "bankruptcies").all()
    ps = per_sector.set_index(["sector", "model"])
    # sector 1: MASE 1 and MAE 2 tie → name order; sector 2: glm 0.5 < naive 1.5
    assert ps.loc[(1, "glm"), "rank"] == 1 and ps.loc[(1, "naive"), "rank"] == 2
    assert ps.loc[(2, "glm"), "mase"] == pytest.approx(0.5) and ps.loc[(2, "naive"), "mase"] == pytest.approx(1.5)


def test_score_target_without_intervals_and_empty_input():
    frame = calibrated().drop(columns=["lower80", "upper80", "lower95", "upper95"]).assign(scale=1.0)
    overall, _ = leaderboard(frame, target="score")
    assert (overall["target"] == "score").all()
    assert overall["coverage80"].isna().all() and (overall["n_interval"] == 0).all()
    assert overall.set_index("model").loc["glm", "mase"] == pytest.approx(6.0)  # scale 1: MASE = MAE
    empty, empty_sector = leaderboard(calibrated().assign(actual=np.nan))
    assert empty.empty and list(empty.columns) == LEADERBOARD_COLUMNS and "sector" in empty_sector


def test_seasonal_scale_aligns_quarters_by_label():
    quarters = ["2019Q1", "2019Q2", "2019Q3", "2019Q4", "2020Q1", "2020Q2", "2020Q3", "2020Q4"]
    panel = pd.concat([
        pd.DataFrame({"sector": 1, "quarter": quarters, "bankruptcies": [1, 2, 3, 4, 3, 2, 5, 4]}),
        pd.DataFrame({"sector": 2, "quarter": quarters, "bankruptcies": [7] * 8}),
    ])
    panel["score"] = panel["bankruptcies"] / 10
    # sector 1, 2020 vs 2019: |3−1|, |2−2|, |5−3|, |4−4| = 2, 0, 2, 0 → 1.0; up to 2020Q1: only 2 → 2.0
    assert seasonal_scale(panel, "2020Q4").loc[1] == pytest.approx(1.0)
    assert seasonal_scale(panel, "2020Q1").loc[1] == pytest.approx(2.0)
    assert np.isnan(seasonal_scale(panel, "2020Q4").loc[2])  # never moved: no usable scale
    assert np.isnan(seasonal_scale(panel, "2019Q4").loc[1])  # no year-apart pair yet
    gap = panel[~((panel["sector"] == 1) & (panel["quarter"] == "2019Q2"))]
    assert seasonal_scale(gap, "2020Q4").loc[1] == pytest.approx(4 / 3)  # the 2020Q2 pair drops out
    assert score_scale(panel, "2020Q4").loc[1] == pytest.approx(0.1)
