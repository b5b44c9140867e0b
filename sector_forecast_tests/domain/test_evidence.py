"""Diebold–Mariano with the HLN correction, per-origin losses and the promotion gate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sector_forecast.domain.gate import GateDecision, dm_test, paired_losses, promotion_gate
from sector_forecast.domain.periods import quarter_offset, quarter_range


def test_dm_hln_hand_example_h1():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 3.0, 5.0])
    # d = a − b = [−1, −2, 0, −1], d̄ = −1, centred [0, −1, 1, 0], γ0 = 2/4 = 0.5, V = 0.5/4 = 0.125,
    # DM = −1/sqrt(0.125) = −2√2; HLN = sqrt((4 + 1 − 2 + 0)/4) = sqrt(3/4) → DM* = −√6
    statistic, pvalue = dm_test(a, b)
    assert statistic == pytest.approx(-math.sqrt(6))
    assert pvalue == pytest.approx(0.0458605567, rel=1e-6)  # t(3) cdf at −√6
    assert pvalue == pytest.approx(stats.t.cdf(-math.sqrt(6), 3))


def test_dm_hln_hand_example_h2():
    d = np.array([-4.0, -3.0, -1.0, 0.0])
    # d̄ = −2, centred [−2, −1, 1, 2]: γ0 = (4+1+1+4)/4 = 2.5, γ1 = (2 − 1 + 2)/4 = 0.75,
    # V = (2.5 + 2·0.75)/4 = 1 → DM = −2; HLN = sqrt((4 + 1 − 4 + 2/4)/4) = sqrt(0.375) → DM* = −sqrt(1.5)
    statistic, pvalue = dm_test(d, np.zeros(4), h=2)
    assert statistic == pytest.approx(-math.sqrt(1.5))
    assert pvalue == pytest.approx(stats.t.cdf(-math.sqrt(1.5), 3))


def test_dm_h1_equals_the_paired_t_test():
    rng = np.random.default_rng(4)
    a, b = rng.gamma(2.0, 1.0, 40), rng.gamma(2.2, 1.0, 40)
    statistic, pvalue = dm_test(a, b)
    t = stats.ttest_rel(a, b, alternative="less")
    # DM uses γ0 with 1/T, the t test s² with 1/(T−1): DM = t·sqrt(T/(T−1)); HLN's sqrt((T−1)/T) undoes it
    assert statistic == pytest.approx(t.statistic) and pvalue == pytest.approx(t.pvalue)
    hln = math.sqrt((40 + 1 - 2) / 40)
    assert statistic / hln == pytest.approx(t.statistic * math.sqrt(40 / 39))


def test_dm_aligns_series_and_degenerate_cases():
    a = pd.Series([1.0, 2.0, 3.0, np.nan], index=["q1", "q2", "q3", "q4"])
    b = pd.Series([2.0, 3.0, 3.5, 1.0, 9.0], index=["q2", "q3", "q1", "q4", "q5"])
    # aligned on q1..q3 (q4 NaN dropped): d = [1 − 3.5, 2 − 2, 3 − 3] = [−2.5, 0, 0]
    assert dm_test(a, b)[0] == pytest.approx(dm_test(np.array([-2.5, 0, 0]), np.zeros(3))[0])
    assert all(math.isnan(x) for x in dm_test([1.0], [2.0]))
    assert dm_test([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]) == (-math.inf, 0.0)  # always better, no variance
    assert all(math.isnan(x) for x in dm_test([1.0, 1.0], [1.0, 1.0]))
    with pytest.raises(ValueError):
        dm_test([1.0, 2.0], [1.0, 2.0], h=0)


def predictions(errors: dict[str, list[float]], sectors=(1, 2, 3)) -> pd.DataFrame:
    """Every model's |error| per origin (same in each sector; scale 2 halves it)."""
    rows = []
    for model, errs in errors.items():
        for origin, e in zip(quarter_range("2015Q1", quarter_offset("2015Q1", len(errs) - 1)), errs, strict=True):
            for s in sectors:
                rows.append((model, s, origin, quarter_offset(origin, 1), 10.0 + e, 10.0, 9.0, 2.0))
    return pd.DataFrame(rows, columns=["model", "sector", "origin", "target_quarter", "prediction", "actual",
                                       "current", "scale"])


def test_paired_losses_average_the_sectors_both_graded_per_origin():
    frame = predictions({"glm": [2.0, 4.0], "naive": [6.0, 6.0]})
    frame.loc[(frame["model"] == "glm") & (frame["sector"] == 3) & (frame["origin"] == "2015Q1"),
              "prediction"] = 18.0  # |e|/2 = 4
    frame.loc[(frame["sector"] == 2) & (frame["origin"] == "2015Q2"), "actual"] = np.nan  # not graded
    pairs = paired_losses(frame, "glm", "naive")
    # glm 2015Q1: (1 + 1 + 4)/3 = 2; 2015Q2: sectors 1 and 3 only, 4/2 = 2 each; naive 6/2 = 3 throughout
    assert pairs["a"].to_dict() == {"2015Q1": pytest.approx(2.0), "2015Q2": pytest.approx(2.0)}
    assert pairs["b"].tolist() == [3.0, 3.0] and pairs["rows"].tolist() == [3, 2]


def test_gate_promotes_a_clearly_better_model():
    rng = np.random.default_rng(0)
    n = 30
    frame = predictions({
        "naive": (3 + rng.uniform(0, 1, n)).tolist(),
        "seasonal_naive": (2 + rng.uniform(0, 1, n)).tolist(),
        "glm": (1 + rng.uniform(0, 1, n)).tolist(),
        "xgboost": (2.4 + rng.uniform(0, 1, n)).tolist(),
    })
    decision = promotion_gate(frame)
    assert (decision.champion, decision.candidate, decision.baseline) == ("glm", "glm", "seasonal_naive")
    assert decision.promoted and decision.pvalue < 1e-6 and decision.origins == n
    assert decision.candidate_mase < decision.baseline_mase
    # Two challengers tested: Holm doubles the smaller p-value (and it is still tiny).
    assert decision.pvalue_holm == pytest.approx(min(1.0, 2 * decision.pvalue))
    assert [c["model"] for c in decision.challengers] == ["glm", "xgboost"]
    assert "glm promoted" in decision.reason and "p < 0.001, below the 0.10 bar" in decision.reason


def test_gate_falls_back_to_the_best_baseline_when_not_significant():
    # glm alternates 0.2 and 3.6 (mean 1.9) vs seasonal naive 2.0: lower MASE, far from significant
    frame = predictions({"naive": [2.5] * 12, "seasonal_naive": [2.0] * 12, "glm": [0.2, 3.6] * 6})
    decision = promotion_gate(frame)
    assert (decision.champion, decision.candidate, decision.promoted) == ("seasonal_naive", "glm", False)
    # MASE = |e|/2: glm 1.9/2 = 0.95 vs 1.0
    assert decision.candidate_mase == pytest.approx(0.95) and decision.baseline_mase == pytest.approx(1.0)
    assert decision.pvalue > 0.10 and "not significant" in decision.reason
    assert f"p = {decision.pvalue:.3f}" in decision.reason and "not below the 0.10 bar" in decision.reason
    worse = promotion_gate(predictions({"naive": [1.0] * 6, "seasonal_naive": [2.0] * 6, "glm": [1.5] * 6}))
    assert worse.champion == "naive" and not worse.promoted and "not more accurate" in worse.reason


def test_gate_edge_cases_and_to_dict():
    only_baselines = promotion_gate(predictions({"naive": [1.0, 2.0], "seasonal_naive": [2.0, 2.0]}))
    assert only_baselines.champion == "naive" and only_baselines.candidate is None
    as_dict = only_baselines.to_dict()
    assert as_dict["pvalue"] is None and as_dict["champion"] == "naive" and as_dict["promoted"] is False
    short = promotion_gate(predictions({"naive": [2.0], "glm": [1.0]}))
    assert short.champion == "naive" and "too few" in short.reason
    with pytest.raises(ValueError, match="baselines"):
        promotion_gate(predictions({"glm": [1.0, 2.0]}))
    assert isinstance(short, GateDecision)


def test_holm_correction_can_refuse_what_one_test_would_promote():
    # The candidate's scaled loss differs from the baseline's by d = −0.24 ± 0.5 (|e| 2.52/0.52 vs 2.0, halved
    # by the scale): mean −0.24, sd ≈ 0.522, paired t over 12 origins ≈ −1.59 → one-sided p ≈ 0.07 < 0.10.
    base = {"naive": [3.0] * 12, "seasonal_naive": [2.0] * 12}
    alone = promotion_gate(predictions({**base, "glm": [2.52, 0.52] * 6}))
    assert alone.promoted and 0.05 < alone.pvalue < 0.10 and alone.pvalue_holm == pytest.approx(alone.pvalue)
    # A second, weaker challenger makes it one of two tests: Holm's 2p ≈ 0.14 is not below 0.10.
    two = promotion_gate(predictions({**base, "glm": [2.52, 0.52] * 6, "xgboost": [2.2, 1.7] * 6}))
    assert two.candidate == "glm" and not two.promoted and two.champion == "seasonal_naive"
    assert two.pvalue == pytest.approx(alone.pvalue) and two.pvalue_holm == pytest.approx(2 * alone.pvalue)
    assert "Holm-adjusted for 2 challengers" in two.reason and "not significant" in two.reason


def test_gate_compares_only_where_both_forecast():
    frame = predictions({"naive": [2.0] * 6, "seasonal_naive": [3.0] * 6, "glm": [1.0] * 6})
    gap = (frame["model"] == "naive") & (frame["sector"] == 2) & (frame["origin"] == "2015Q1")
    frame.loc[gap, "prediction"] = np.nan  # the baseline could not forecast sector 2 at its first origin
    decision = promotion_gate(frame)
    test = decision.challengers[0]
    assert decision.baseline == "naive" and test["origins"] == 6
    assert test["rows"] == 6 * 3 - 1  # the missing pair is left out of both models, and counted
    assert "(17 sector forecasts)" in decision.reason
