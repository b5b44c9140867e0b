"""The simulated score forecast: consistent with the score, seeded, and honest about the births lag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.periods import quarter_offset, quarter_range, quarter_year
from sector_forecast.domain.realtime import births_vintage, origin_date
from sector_forecast.domain.score import panel_scores
from sector_forecast.domain.scoresim import SIM_COLUMNS, origin_inputs, simulate_origin, simulate_scores

BIRTHS = {2019: 400.0, 2020: 440.0, 2021: 380.0, 2022: 420.0, 2023: 400.0}


def make_panel(seed: int = 0) -> pd.DataFrame:
    """Sectors 1 and 2, 2014Q1–2024Q4; DEMO14 births published for 2019–2023, nowcast 2024, none before."""
    rng = np.random.default_rng(seed)
    rows = []
    for sector, level in ((1, 10), (2, 40)):
        for q in quarter_range("2014Q1", "2024Q4"):
            year = quarter_year(q)
            births = BIRTHS.get(year, 400.0 if year == 2024 else np.nan) * sector / 4
            prov = "published" if year in BIRTHS else ("nowcast" if year == 2024 else "unavailable")
            rows.append((sector, q, int(rng.poisson(level)), births, prov))
    return pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance"])


def test_point_score_matches_the_panel_score_when_everything_is_known():
    panel = make_panel()
    scored = panel_scores(panel).set_index(["sector", "quarter"])
    counts = panel.set_index(["sector", "quarter"])["bankruptcies"]
    # Every published score: births 2019–2023 → first balance 2019Q4, first score 2021Q4 (8 earlier balances).
    targets = scored.index[scored["score"].notna()].get_level_values("quarter").unique()
    assert list(targets) == quarter_range("2021Q4", "2023Q4")
    for target in targets:  # Q1–Q3 targets hold births of two years in their four quarters: the ramp counts
        # μ = the actual count, residuals all zero, every births year published: each draw is the real score
        actual = {s: float(counts.loc[(s, target)]) for s in (1, 2)}
        out = simulate_scores(quarter_offset(target, -1), actual, {1: np.zeros(30), 2: np.zeros(30)}, panel,
                              births_vintage(panel, "2030-01-01"), n_draws=200)
        assert list(out.columns) == SIM_COLUMNS and (out["target_quarter"] == target).all()
        for _, row in out.iterrows():
            expected = scored.loc[(row["sector"], target), "score"]
            assert row["score_prediction"] == pytest.approx(expected)
            assert row["score_lower95"] == pytest.approx(expected) and row["score_upper95"] == pytest.approx(expected)
            assert row["births_basis"] == "published"


def test_deterministic_given_the_seed_and_sector_streams_independent():
    panel = make_panel()
    vintage = births_vintage(panel, origin_date("2023Q3"))
    res = {1: np.linspace(-2, 2, 25), 2: np.linspace(-1.5, 2.5, 25)}
    a = simulate_scores("2023Q3", {1: 9.0, 2: 41.0}, res, panel, vintage, seed=7)
    b = simulate_scores("2023Q3", {1: 9.0, 2: 41.0}, res, panel, vintage, seed=7)
    pd.testing.assert_frame_equal(a, b)
    c = simulate_scores("2023Q3", {1: 9.0, 2: 41.0}, res, panel, vintage, seed=8)
    assert not a.equals(c)
    only_two = simulate_scores("2023Q3", {2: 41.0}, res, panel, vintage, seed=7)
    pd.testing.assert_frame_equal(only_two, a[a["sector"] == 2].reset_index(drop=True))
    # origin 2023Q3 is made 2023-10-11: DEMO14 2021 is the newest year out, 2023 is a nowcast
    assert (a["births_basis"] == "nowcast").all()
    assert (a["score_lower95"] <= a["score_lower80"]).all() and (a["score_lower80"] <= a["score_prediction"]).all()
    assert (a["score_prediction"] <= a["score_upper80"]).all() and (a["score_upper80"] <= a["score_upper95"]).all()


def test_intervals_widen_with_the_births_nowcast_horizon():
    panel = make_panel()
    full = births_vintage(panel, "2030-01-01")
    zero = {1: np.zeros(20), 2: np.zeros(20)}  # no count uncertainty: only births are uncertain
    widths = []
    for newest in (2023, 2022, 2021, 2020):  # target 2023Q4: horizon 0 (published), 1, 2, 3
        vintage = full[full["year"] <= newest]
        out = simulate_scores("2023Q3", {1: 10.0, 2: 40.0}, zero, panel, vintage, n_draws=4000)
        widths.append((out["score_upper80"] - out["score_lower80"]).mean())
    assert widths[0] == 0.0  # everything published and counts fixed: a point
    assert widths[0] < widths[1] < widths[2] < widths[3], widths


def test_count_uncertainty_and_missing_inputs():
    panel = make_panel()
    vintage = births_vintage(panel, "2030-01-01")
    narrow = simulate_scores("2022Q3", {1: 10.0}, {1: np.linspace(-0.3, 0.3, 30)}, panel, vintage)
    wide = simulate_scores("2022Q3", {1: 10.0}, {1: np.linspace(-2.0, 2.0, 30)}, panel, vintage)
    assert (wide["score_upper95"] - wide["score_lower95"]).iloc[0] > (
        narrow["score_upper95"] - narrow["score_lower95"]).iloc[0]
    # no residuals: a point score but no interval; target before DEMO14 (2018): no score at all
    bare = simulate_scores("2022Q3", {1: 10.0}, {}, panel, vintage).iloc[0]
    assert np.isfinite(bare["score_prediction"]) and np.isnan(bare["score_lower80"])
    early = simulate_scores("2018Q2", {1: 10.0}, {1: np.zeros(5)}, panel, vintage).iloc[0]
    assert early["births_basis"] == "unavailable" and np.isnan(early["score_prediction"])
    with pytest.raises(ValueError):
        simulate_scores("2022Q3", {1: -1.0}, {}, panel, vintage)
    # a sector without a bankruptcy forecast (a baseline that could not make one) has no score row; sector 2's
    # draws are its own stream, so it is the same as when simulated alone
    both = simulate_scores("2022Q3", {1: np.nan, 2: 10.0}, {2: np.linspace(-1, 1, 30)}, panel, vintage)
    alone = simulate_scores("2022Q3", {2: 10.0}, {2: np.linspace(-1, 1, 30)}, panel, vintage)
    pd.testing.assert_frame_equal(both, alone)


def test_one_origins_inputs_serve_every_model_unchanged():
    # The score backtest builds an origin's inputs once and simulates each model from them: no model's draws
    # may change what the next one reads, so each equals its own simulate_scores call.
    panel = make_panel()
    vintage = births_vintage(panel, origin_date("2023Q3"))
    inputs = origin_inputs("2023Q3", panel, vintage)
    models = [({1: 9.0, 2: 41.0}, {1: np.linspace(-2, 2, 25), 2: np.linspace(-1.5, 2.5, 25)}),
              ({1: 3.0, 2: 60.0}, {1: np.linspace(-1, 3, 21)}), ({2: 0.0}, {})]
    for mu, res in models:
        pd.testing.assert_frame_equal(simulate_origin(inputs, mu, res, n_draws=500, seed=4),
                                      simulate_scores("2023Q3", mu, res, panel, vintage, n_draws=500, seed=4),
                                      check_exact=True)
