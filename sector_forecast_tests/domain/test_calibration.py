"""Calibrated count intervals: hand-computed pieces, no look-ahead, fallback chain and real coverage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.calibration import (
    COVERAGES,
    calibrate_backtest,
    conformal_quantile,
    interval_bounds,
    live_quantiles,
    lower_at_zero,
    min_calibration_size,
    pearson_residual,
    residual_pool,
    residual_pools,
    validation_pools,
    winkler_score,
)
from sector_forecast.domain.periods import quarter_offset, quarter_range


def backtest(
    mus: dict[int, float], n_origins: int, models=("glm",), seed: int = 0, first: str = "2000Q1"
) -> pd.DataFrame:
    """Exchangeable synthetic backtest: each model predicts the true Poisson mean of every sector."""
    rng = np.random.default_rng(seed)
    rows = []
    for origin in quarter_range(first, quarter_offset(first, n_origins - 1)):
        for sector, mu in mus.items():
            y = float(rng.poisson(mu))
            for m in models:
                rows.append((m, sector, origin, quarter_offset(origin, 1), float(mu), y, float(mu), 1.0))
    return pd.DataFrame(
        rows, columns=["model", "sector", "origin", "target_quarter", "prediction", "actual", "current", "scale"]
    )


def test_residual_bounds_and_quantile_by_hand():
    # (5 − 3)/sqrt(4) = 1; (0 − 0)/1 = 0; (2 − 0)/1 = 2: the +1 keeps μ = 0 finite
    assert pearson_residual([5, 0, 2], [3, 0, 0]).tolist() == [1.0, 0.0, 2.0]
    # μ = 8, q = 1: half-width 1·sqrt(9) = 3 → [5, 11]; μ = 3, q = 1.5: 1.5·2 = 3 → [max(0, 0), 6]
    lo, hi = interval_bounds(np.array([8.0, 3.0]), np.array([1.0, 1.5]))
    assert lo.tolist() == [5.0, 0.0] and hi.tolist() == [11.0, 6.0]
    assert lower_at_zero(np.array([8.0, 3.0]), np.array([1.0, 1.5])).tolist() == [False, True]
    assert interval_bounds(4.0, math.inf) == (0.0, math.inf)
    with pytest.raises(ValueError):
        interval_bounds(-1.0, 1.0)
    res = [0.1, -0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8, 0.9]
    assert conformal_quantile(res, 0.8) == pytest.approx(0.8)  # k = ceil(10·0.8) = 8 → 8th smallest |r|
    assert conformal_quantile(res[:3], 0.8) == math.inf  # k = ceil(4·0.8) = 4 > 3
    assert conformal_quantile(res[:4], 0.8) == pytest.approx(0.4)  # k = ceil(5·0.8) = 4 = n
    assert conformal_quantile(np.arange(19.0), 0.95) == 18.0  # k = ceil(20·0.95) = 19 = n, despite rounding
    assert (min_calibration_size(0.8), min_calibration_size(0.95)) == (4, 19)  # ceil(c/(1−c))


def test_winkler_score_by_hand():
    # [2, 6] at 80 %: α = 0.2, 2/α = 10. Inside: width 4; y = 1: 4 + 10·1 = 14; y = 8: 4 + 10·2 = 24
    assert winkler_score([2, 2, 2], [6, 6, 6], [4, 1, 8], 0.8).tolist() == pytest.approx([4, 14, 24])


def test_fallback_chain_by_origin():
    frame = backtest({1: 20.0, 2: 50.0, 3: 5.0}, n_origins=25)
    out = calibrate_backtest(frame)
    origins = sorted(frame["origin"].unique())
    src = out[out["sector"] == 1].set_index("origin")
    # At the k-th origin (0-based) each sector has k graded residuals (targets o_1..o_k), the pool 3k.
    # 80 %: sector needs k >= 4, pool 3k >= 4 → k >= 2. 95 %: sector k >= 19, pool 3k >= 19 → k >= 7.
    assert [src.loc[origins[k], "calibration80"] for k in (0, 1, 2, 3, 4)] == [
        "none", "none", "pooled", "pooled", "sector"]
    assert [src.loc[origins[k], "calibration95"] for k in (6, 7, 18, 19)] == ["none", "pooled", "pooled", "sector"]
    first = src.loc[origins[0]]
    assert first["lower80"] == 0.0 and first["upper80"] == math.inf and bool(first["lower80_at_zero"])
    # Origin 4, sector 1: its 4 residuals of targets o_1..o_4; k = ceil(5·0.8) = 4 → the largest |r|
    own = frame[(frame["sector"] == 1) & (frame["target_quarter"] <= origins[4])]
    q = np.abs(pearson_residual(own["actual"], own["prediction"])).max()
    assert len(own) == 4
    assert src.loc[origins[4], "upper80"] == pytest.approx(20 + q * math.sqrt(21))
    assert src.loc[origins[4], "lower80"] == pytest.approx(max(0.0, 20 - q * math.sqrt(21)))


def test_validation_residuals_fill_the_earliest_origins():
    frame = backtest({1: 20.0, 2: 50.0}, n_origins=3)
    validation = pd.DataFrame({
        "model": "glm", "origin": frame["origin"].min(), "sector": [1, 2, 1, 2, 1],
        "residual": [0.5, -1.0, 1.5, -2.0, 0.1],
    })
    out = calibrate_backtest(frame, validation).set_index(["origin", "sector"])
    first = out.loc[(frame["origin"].min(), 1)]
    # 5 validation residuals: 80 % k = ceil(6·0.8) = 5 → largest |r| = 2.0; 95 % needs 19 → none
    assert first["calibration80"] == "validation" and first["calibration95"] == "none"
    assert first["upper80"] == pytest.approx(20 + 2.0 * math.sqrt(21))
    assert (out["calibration80"] != "validation").sum() == 4  # later origins have no validation rows


def test_sequential_calibration_never_uses_later_targets():
    frame = backtest({s: 10.0 * s for s in range(1, 6)}, n_origins=30, models=("glm", "naive"))
    cut = sorted(frame["origin"].unique())[14]
    perturbed = frame.copy()
    later = perturbed["target_quarter"] > cut
    perturbed.loc[later, "actual"] = perturbed.loc[later, "actual"] * 3 + 7
    cols = ["lower80", "upper80", "lower95", "upper95", "calibration80", "calibration95"]
    a, b = calibrate_backtest(frame), calibrate_backtest(perturbed)
    early = frame["origin"] <= cut
    pd.testing.assert_frame_equal(a.loc[early, cols], b.loc[early, cols])
    assert not a.loc[~early, "upper80"].equals(b.loc[~early, "upper80"])  # the perturbation does matter


def test_exchangeable_counts_give_nominal_coverage_per_sector():
    mus = {s: 20.0 * s for s in range(1, 11)}
    out = calibrate_backtest(backtest(mus, n_origins=300, seed=3))
    scored = out[out["calibration80"] == "sector"]
    y = scored["actual"]
    cov80 = ((y >= scored["lower80"]) & (y <= scored["upper80"])).groupby(scored["sector"]).mean()
    late = out[out["calibration95"] == "sector"]
    cov95 = ((late["actual"] >= late["lower95"]) & (late["actual"] <= late["upper95"])).mean()
    # ~296 forecasts per sector: sd of a coverage share ≈ sqrt(0.8·0.2/296) ≈ 0.023; ±3.5 sd, a bit
    # more above because integer counts tie with the bounds (the interval is closed).
    assert cov80.between(0.72, 0.90).all(), cov80.to_dict()
    assert 0.93 <= cov95 <= 0.97


def test_calibration_of_a_full_backtest_keeps_every_row_in_place():
    frame = backtest({s: 15.0 + s for s in range(1, 11)}, n_origins=60,
                     models=("naive", "seasonal_naive", "glm", "xgboost"))
    out = calibrate_backtest(frame)
    assert len(out) == len(frame) == 2400 and out.index.equals(frame.index)


def test_live_quantiles_and_residual_pool():
    frame = backtest({1: 20.0, 2: 50.0}, n_origins=10)
    quantiles, sources = live_quantiles(frame, "glm")
    # 10 graded per sector: 80 % from the sector itself (k = ceil(11·0.8) = 9th smallest |r|); 95 % needs 19
    # per sector (none) but the pool of 20 has it (k = ceil(21·0.95) = 20 → the largest |r| of both)
    r1 = np.sort(np.abs(pearson_residual(frame.loc[frame["sector"] == 1, "actual"], 20.0)))
    assert quantiles[1][0.8] == pytest.approx(r1[8]) and sources[1][0.8] == "sector"
    both = np.abs(pearson_residual(frame["actual"], frame["prediction"])).max()
    assert quantiles[2][0.95] == pytest.approx(both) and sources[2][0.95] == "pooled"
    assert set(quantiles) == {1, 2} and set(quantiles[1]) == set(COVERAGES)

    origin = sorted(frame["origin"].unique())[5]  # targets o_1..o_5 graded: 5 per sector, 10 pooled
    pool = residual_pool(frame, "glm", origin, coverage=0.8)
    known = frame[(frame["sector"] == 2) & (frame["target_quarter"] <= origin)]
    np.testing.assert_allclose(np.sort(pool[2]), np.sort(pearson_residual(known["actual"], 50.0)))
    wide = residual_pool(frame, "glm", origin)  # 95 % rule: 10 pooled < 19 → nothing
    assert len(wide[1]) == 0 and len(wide[2]) == 0
    assert (pool[1] < 0).any() and (pool[1] > 0).any()  # signed, for simulation


def test_the_95_interval_always_contains_the_80_interval() -> None:
    # Four origins x 2 sectors: at the fourth, origins 1-3 are graded (targets 2-4): 3 residuals a sector, too
    # few for 80% (4), so 6 pooled ones serve the 80%; the 95% needs 19 and falls back to the fit's validation
    # residuals — here 20 tiny ones (0.01). Alone that gives q95 = 0.01 < q80; nesting widens the 95% instead.
    preds = backtest({1: 20.0, 2: 30.0}, n_origins=4)
    last = preds["origin"].max()
    validation = pd.DataFrame({"model": "glm", "origin": last, "sector": [1, 2] * 10, "residual": [0.01] * 20})
    out = calibrate_backtest(preds, validation)
    row = out[out["origin"] == last]
    assert set(row["calibration80"]) == {"pooled"} and set(row["calibration95"]) == {"validation"}
    assert (row["upper95"] >= row["upper80"]).all() and (row["lower95"] <= row["lower80"]).all()
    assert (row["upper95"] == row["upper80"]).all()  # widened exactly to the 80% bound
    quantiles, _ = live_quantiles(preds, "glm", validation)
    assert all(q[0.95] >= q[0.8] for q in quantiles.values())


def test_validation_pools_keep_row_order_and_drop_non_finite() -> None:
    # Split once per call instead of masked per (model, origin): the same residuals in row order, which the
    # simulation's resampling by position depends on.
    validation = pd.DataFrame({"model": ["glm", "naive", "glm", "glm", "glm"],
                               "origin": ["2001Q2", "2001Q2", "2001Q1", "2001Q2", "2001Q2"],
                               "sector": [1, 1, 1, 2, 1], "residual": [0.5, 9.0, 7.0, np.nan, -0.25]})
    pools = validation_pools(validation)
    np.testing.assert_array_equal(pools[("glm", "2001Q2")], [0.5, -0.25])
    np.testing.assert_array_equal(pools[("glm", "2001Q1")], [7.0])
    assert set(pools) == {("glm", "2001Q2"), ("glm", "2001Q1"), ("naive", "2001Q2")}
    assert validation_pools(None) == {} and validation_pools(validation.iloc[:0]) == {}


def test_residual_pools_equal_masking_the_frame_per_model_and_origin() -> None:
    frame = backtest({1: 20.0, 2: 50.0, 3: 5.0}, n_origins=12, models=("glm", "naive"), seed=3)
    validation = pd.DataFrame({"model": "glm", "origin": sorted(frame["origin"].unique())[1],
                               "sector": [1, 2] * 15, "residual": np.linspace(-1, 1, 30)})
    pool = residual_pools(frame, validation, coverage=0.8)
    for model in ("glm", "naive"):
        for origin in sorted(frame["origin"].unique()):
            got = pool(model, origin)
            rows = frame[(frame["model"] == model) & (frame["target_quarter"] <= origin)]
            pooled = pearson_residual(rows["actual"], rows["prediction"])
            fallback = validation.loc[validation["origin"] == origin, "residual"].to_numpy()
            for s in (1, 2, 3):
                own = pooled[(rows["sector"] == s).to_numpy()]
                want = own if len(own) >= 4 else pooled if len(pooled) >= 4 else fallback if (
                    model == "glm" and len(fallback) >= 4) else np.empty(0)
                np.testing.assert_array_equal(got[s], want)  # exact, in row order
