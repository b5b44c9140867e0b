"""The prediction log keeps each forecast's horizon (issue 24): logged per horizon, old logs read as horizon 1,
and each horizon's forecast graded once its quarter is published."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import quarter_offset
from sector_forecast.storage.prediction_log import (
    LOG_COLUMNS,
    append_to_prediction_log,
    graded_log,
    origin_forecast,
    performance_by_horizon,
    read_prediction_log,
)


def backtest(origin: str = "2022Q2") -> pd.DataFrame:
    """Two sectors × horizons 1–4 of glm at one origin: μ = 10·h + sector, 80% half-width 2, 95% half-width 4."""
    rows = []
    for h in (1, 2, 3, 4):
        for s in (1, 2):
            mu = 10.0 * h + s
            rows.append({"model": "glm", "sector": s, "origin": origin, "horizon": h,
                         "target_quarter": quarter_offset(origin, h), "prediction": mu, "lower80": mu - 2,
                         "upper80": mu + 2, "lower95": mu - 4, "upper95": mu + 4, "calibration80": "sector",
                         "calibration95": "pooled"})
    return pd.DataFrame(rows)


def logged(origin: str = "2022Q2") -> pd.DataFrame:
    return origin_forecast(backtest(origin), "glm", origin).assign(
        origin=origin, model_version="1", predicted_at="t", dagster_run_id="run")[LOG_COLUMNS]


def test_the_log_keeps_every_horizon_and_reads_old_logs_as_horizon_one(tmp_path: Path) -> None:
    rows = logged()
    assert rows["horizon"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert rows["quarter"].tolist()[::2] == ["2022Q3", "2022Q4", "2023Q1", "2023Q2"]
    path = tmp_path / "prediction_log.parquet"
    log = append_to_prediction_log(path, rows)
    assert len(log) == 8 and len(append_to_prediction_log(path, rows)) == 8  # a re-run replaces, never adds
    one_step = origin_forecast(backtest().drop(columns="horizon").iloc[:2], "glm", "2022Q2")
    assert one_step["horizon"].tolist() == [1, 1]  # the leaderboard's one-step frame has no horizon column
    old = tmp_path / "old.parquet"
    rows.drop(columns="horizon").iloc[:2].to_parquet(old, index=False)  # a log written before horizons
    assert read_prediction_log(old)["horizon"].tolist() == [1, 1]


def test_each_horizon_is_graded_once_its_quarter_is_published() -> None:
    log = pd.concat([logged("2022Q2"), logged("2022Q3")], ignore_index=True)
    # published up to 2023Q1: origin 2022Q2's h = 1, 2, 3 and 2022Q3's h = 1, 2; sector 2 of 2022Q4 suppressed
    counts = pd.DataFrame({"sector": [1, 2] * 3, "quarter": ["2022Q3"] * 2 + ["2022Q4"] * 2 + ["2023Q1"] * 2,
                           "bankruptcies": [12.0, 12.0, 21.0, np.nan, 33.0, 40.0]})
    graded = graded_log(log, counts)
    assert sorted(zip(graded["origin"], graded["horizon"], graded["sector"], strict=True)) == [
        ("2022Q2", 1, 1), ("2022Q2", 1, 2), ("2022Q2", 2, 1), ("2022Q2", 3, 1), ("2022Q2", 3, 2),
        ("2022Q3", 1, 1), ("2022Q3", 2, 1), ("2022Q3", 2, 2)]
    row = graded[(graded["origin"] == "2022Q2") & (graded["horizon"] == 3) & (graded["sector"] == 2)].iloc[0]
    # μ = 32, actual 40: residual (40 − 32)/sqrt(33); outside [30, 34] and [28, 36]
    assert row["actual"] == 40.0 and np.isclose(row["residual"], 8 / np.sqrt(33))
    assert not row["inside80"] and not row["inside95"]
    same = graded[(graded["origin"] == "2022Q2") & (graded["horizon"] == 1) & (graded["sector"] == 1)].iloc[0]
    assert same["inside80"] and same["residual"] == 1 / np.sqrt(12)  # μ = 11, actual 12


def test_performance_per_horizon_summarises_the_grades() -> None:
    log = pd.concat([logged("2022Q2"), logged("2022Q3")], ignore_index=True)
    counts = pd.DataFrame({"sector": [1, 2] * 3, "quarter": ["2022Q3"] * 2 + ["2022Q4"] * 2 + ["2023Q1"] * 2,
                           "bankruptcies": [12.0, 12.0, 21.0, np.nan, 33.0, 40.0]})
    table = performance_by_horizon(graded_log(log, counts)).set_index("horizon")
    # h1: 2022Q2→2022Q3 s1 (μ 11, a 12, inside), s2 (μ 12, a 12, inside); 2022Q3→2022Q4 s1 (μ 11, a 21, outside
    # [7, 15]): 3 graded over 2 quarters, 2/3 inside both, mean |r| = (1 + 0 + 10)/sqrt(12)/3
    # h2: 2022Q2→2022Q4 s1 (μ 21, a 21); 2022Q3→2023Q1 s1 (μ 21, a 33), s2 (μ 22, a 40): 1/3 inside
    # h3: 2022Q2→2023Q1 s1 (μ 31, a 33: on the 80% bound, inside), s2 (μ 32, a 40, outside): 1/2 inside
    assert table["graded"].tolist() == [3, 3, 2] and table["quarters"].tolist() == [2, 2, 1]
    np.testing.assert_allclose(table["coverage80"], [2 / 3, 1 / 3, 1 / 2])
    np.testing.assert_allclose(table["coverage95"], [2 / 3, 1 / 3, 1 / 2])
    np.testing.assert_allclose(table["mean_abs_residual"], [
        11 / np.sqrt(12) / 3, (12 / np.sqrt(22) + 18 / np.sqrt(23)) / 3, (2 / np.sqrt(32) + 8 / np.sqrt(33)) / 2])
    assert performance_by_horizon(graded_log(log, counts.iloc[:0])).empty  # nothing published: nothing graded
