"""The real-time backtest end to end: features → forecasters.backtest → calibration → score forecasts.

Issue 12 asks that no graded target contain one of our own nowcasts, and that each origin see the data as
DST had published them on its date. Both are checked by perturbation: change what must not matter and
expect the graded numbers to stay bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts.forecasting import PREDICTIONS_SCHEMA
from sector_forecast.contracts.inputs import FEATURE_SCHEMA, PANEL_SCHEMA
from sector_forecast.contracts.validation import validate
from sector_forecast.domain import calibration, forecasters, horizons, scorecast
from sector_forecast.domain.features import build_features
from sector_forecast.domain.metrics import score_scale
from sector_forecast.domain.panel import build_panel, quarterly_births
from sector_forecast.domain.periods import quarter_of_year, quarter_range, quarter_year
from sector_forecast.domain.realtime import demo14_release_date, origin_date
from sector_forecast.domain.score import panel_scores

QUARTERS = quarter_range("2009Q1", "2024Q4")
DEMO14_YEARS = (2019, 2020, 2021, 2022)  # published; 2023–2024 are nowcast in the panel
# 2020Q4 (made 2021-01-11) has no DEMO14 year yet; 2021Q3 and 2022Q2 target published-births quarters;
# 2022Q4, 2023Q3 and 2024Q3 target nowcast-births quarters; 2024Q4's target (2025Q1) is not out yet.
ORIGINS = ["2020Q4", "2021Q3", "2022Q2", "2022Q4", "2023Q3", "2024Q3", "2024Q4"]
SEASON = {1: 1.2, 2: 1.0, 3: 0.85, 4: 1.05}


def demo14_year(year: int, nye: dict[int, float]) -> pd.DataFrame:
    """A DEMO14 year partition as the raw asset holds it (all Denmark, NYE plus a decoy measure)."""
    rows = [
        {"region": "000", "branchedb0710": str(s), "maengde4": m, "period": str(year),
         "value": nye[s] if m == "NYE" else 5.0, "suppressed": False}
        for s in range(1, 11) for m in ("NYE", "OPH")
    ]
    return pd.DataFrame(rows)


def make_panel(seed: int = 12) -> pd.DataFrame:
    """2009Q1–2024Q4, ten sectors, seasonal Poisson bankruptcies, built and scored like the real panel."""
    rng = np.random.default_rng(seed)
    bank = pd.DataFrame(
        [(s, q, int(rng.poisson((5 + 4 * s) * SEASON[quarter_of_year(q)])), False) for q in QUARTERS
         for s in range(1, 11)],
        columns=["sector", "quarter", "bankruptcies", "bankruptcies_suppressed"],
    ).astype({"bankruptcies": "Int64"})
    demo = {y: demo14_year(y, {s: float(rng.poisson(300 * s)) for s in range(1, 11)}) for y in DEMO14_YEARS}
    births = pd.concat([quarterly_births(demo, q) for q in QUARTERS], ignore_index=True)
    return panel_scores(build_panel(bank, births, None))


@dataclass
class Run:
    panel: pd.DataFrame
    features: pd.DataFrame
    calibrated: pd.DataFrame
    scores: pd.DataFrame
    by_horizon: pd.DataFrame


def run(panel: pd.DataFrame, origins: list[str] = ORIGINS) -> Run:
    features = build_features(panel, QUARTERS)
    preds, validation = horizons.backtest(features, origins)
    by_horizon = calibration.calibrate_horizons(horizons.attach_actuals(preds, panel), validation)
    calibrated, validation = horizons.one_step(by_horizon), horizons.one_step(validation)
    return Run(panel, features, calibrated, scorecast.score_backtest(calibrated, panel, validation), by_horizon)


def perturb_nowcasts(panel: pd.DataFrame) -> pd.DataFrame:
    noisy = panel.copy()
    noisy.loc[noisy["births_provenance"] == "nowcast", "births"] *= 3
    return panel_scores(noisy)  # re-derive the score columns, as the pipeline would


@pytest.fixture(scope="module")
def base() -> Run:
    return run(make_panel())


@pytest.fixture(scope="module")
def perturbed(base) -> Run:
    return run(perturb_nowcasts(base.panel))


KEYS = ["model", "sector", "origin"]


def graded(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame["actual"].notna()].sort_values(KEYS, ignore_index=True)
    return rows.assign(error=rows["prediction"] - rows["actual"])


def test_the_synthetic_world_is_valid_and_the_perturbation_bites(base, perturbed):
    assert validate(PANEL_SCHEMA, base.panel) == [] and validate(PANEL_SCHEMA, perturbed.panel) == []
    assert validate(FEATURE_SCHEMA, base.features) == []
    assert validate(PREDICTIONS_SCHEMA, base.calibrated[forecasters.BACKTEST_COLUMNS]) == []
    nowcast = base.panel["births_provenance"] == "nowcast"
    assert set(base.panel.loc[nowcast, "quarter"]) == set(quarter_range("2023Q1", "2024Q4"))
    assert (perturbed.panel.loc[nowcast, "births"] == 3 * base.panel.loc[nowcast, "births"]).all()
    # Anything that read the nowcast births would move: the descriptive entry share does.
    assert (perturbed.panel.loc[nowcast, "entry_share"] != base.panel.loc[nowcast, "entry_share"]).all()
    # Targets of three origins fall in nowcast-births quarters, so the checks below are not vacuous.
    targets = base.calibrated.drop_duplicates("origin").set_index("origin")["target_quarter"]
    assert sorted(targets[targets.between("2023Q1", "2024Q4")]) == ["2023Q1", "2023Q4", "2024Q4"]
    # Every model at every origin, ten sectors each.
    assert base.calibrated.groupby(["model", "origin"]).size().eq(10).all()
    assert base.calibrated["origin"].nunique() == len(ORIGINS)


def test_graded_bankruptcy_errors_and_actuals_ignore_every_nowcast(base, perturbed):
    a, b = graded(base.calibrated), graded(perturbed.calibrated)
    n_models = len(forecasters.MODELS)  # seven: four baselines, three challengers
    assert len(a) == n_models * 6 * 10  # every model × six origins with a published target × ten sectors
    pd.testing.assert_frame_equal(a[[*KEYS, "target_quarter", "actual", "error"]],
                                  b[[*KEYS, "target_quarter", "actual", "error"]])
    # Nothing of the forecasts read the nowcasts either: predictions, intervals, calibration sources.
    pd.testing.assert_frame_equal(base.calibrated, perturbed.calibrated)


def test_graded_bankruptcy_actual_is_the_published_count(base):
    rows = graded(base.calibrated)
    counts = base.panel.set_index(["sector", "quarter"])["bankruptcies"].astype("float64")
    expected = counts.reindex(pd.MultiIndex.from_frame(rows[["sector", "target_quarter"]])).to_numpy()
    np.testing.assert_array_equal(rows["actual"].to_numpy(), expected)
    assert base.calibrated.loc[base.calibrated["origin"] == "2024Q4", "actual"].isna().all()  # 2025Q1 not out


def test_graded_score_errors_and_actuals_ignore_every_nowcast(base, perturbed):
    a, b = graded(base.scores), graded(perturbed.scores)
    assert len(a) > 0
    pd.testing.assert_frame_equal(a[[*KEYS, "target_quarter", "actual", "error"]],
                                  b[[*KEYS, "target_quarter", "actual", "error"]])
    # The score forecasts nowcast births from the vintage, never from the panel's nowcast column.
    pd.testing.assert_frame_equal(base.scores, perturbed.scores)


def test_no_graded_score_actual_is_a_nowcast_quarter(base):
    rows = graded(base.scores)
    provenance = base.panel.set_index(["sector", "quarter"])["births_provenance"]
    keys = pd.MultiIndex.from_frame(rows[["sector", "target_quarter"]])
    assert (provenance.reindex(keys) == "published").all()
    # Hence the graded origins are exactly those whose target year DEMO14 has published (2019–2022).
    assert sorted(rows["origin"].unique()) == ["2021Q3", "2022Q2"]
    assert (rows["target_quarter"].map(quarter_year) <= max(DEMO14_YEARS)).all()


def test_graded_score_rows_exist_only_where_the_panel_has_a_published_score(base):
    panel_score = base.panel.set_index(["sector", "quarter"])["score"]
    keys = pd.MultiIndex.from_frame(base.scores[["sector", "target_quarter"]])
    published = panel_score.reindex(keys).to_numpy()
    is_graded = base.scores["actual"].notna().to_numpy()
    # graded ⇔ the panel scores that quarter, and then the actual is that score
    np.testing.assert_array_equal(is_graded, np.isfinite(published))
    np.testing.assert_array_equal(base.scores["actual"].to_numpy()[is_graded], published[is_graded])


def test_score_forecasts_start_with_the_first_demo14_publication(base):
    # 2020Q4 is made 2021-01-11, before DEMO14 2019 (2021-06-15): no births to nowcast from, no row.
    assert origin_date("2020Q4") < demo14_release_date(2019) <= origin_date("2021Q3")
    assert sorted(base.scores["origin"].unique()) == ORIGINS[1:]
    # At no origin is the target year published (that takes until June of year+2): always a nowcast.
    assert (base.scores["births_basis"] == "nowcast").all()
    assert base.scores.groupby(["model", "origin"]).size().eq(10).all()


def test_score_backtest_rows_are_each_models_own_score_forecast(base):
    # The backtest shares each origin's vintage, nowcasts and history across its models: sharing must change
    # no number, so every (model, origin) equals score_forecast with that model's residual pool alone.
    scores = scorecast.score_backtest(base.calibrated, base.panel)
    cols = ["prediction", "lower80", "upper80", "lower95", "upper95"]
    for (model, origin), rows in base.calibrated.groupby(["model", "origin"]):
        mu = dict(zip(rows["sector"].astype(int), rows["prediction"].astype(float), strict=True))
        pool = calibration.residual_pool(base.calibrated, model, origin)
        alone = scorecast.score_forecast(origin, mu, pool, base.panel)
        got = scores[(scores["model"] == model) & (scores["origin"] == origin)]
        assert len(got) == len(alone)
        if len(alone):
            np.testing.assert_array_equal(got[cols].to_numpy(), alone[[f"score_{c}" for c in cols]].to_numpy())
            assert list(got["births_basis"]) == list(alone["births_basis"])


@pytest.mark.parametrize("origin", ["2021Q3", "2022Q2", "2023Q3"])
def test_an_origin_never_sees_what_was_published_after_its_date(base, origin):
    """Perturb every bankruptcy after the origin and every DEMO14 year released after its date."""
    made = origin_date(origin)
    noisy = base.panel.copy()
    noisy.loc[noisy["quarter"] > origin, "bankruptcies"] = 777
    unreleased = noisy["quarter"].map(lambda q: demo14_release_date(quarter_year(q)) > made)
    noisy.loc[unreleased & noisy["births"].notna(), "births"] *= 5  # whole years, so quarters agree
    changed = run(panel_scores(noisy), [o for o in ORIGINS if o <= origin])
    bounds = ["prediction", "lower80", "upper80", "lower95", "upper95"]
    # The score's `scale` is left out: a hindsight normaliser (see the test below).
    for frame_a, frame_b, cols in (
        (base.calibrated, changed.calibrated, [*bounds, "calibration80", "calibration95", "current", "scale"]),
        (base.scores, changed.scores, [*bounds, "births_basis"]),
    ):
        a = frame_a[frame_a["origin"] <= origin].sort_values(KEYS, ignore_index=True)
        b = frame_b.sort_values(KEYS, ignore_index=True)
        pd.testing.assert_frame_equal(a[[*KEYS, *cols]], b[[*KEYS, *cols]])
    assert (changed.calibrated.loc[changed.calibrated["origin"] == origin, "actual"] == 777).all()


def test_score_scale_is_a_hindsight_normaliser_not_a_forecast_input(base):
    """The score's MASE scale uses published scores up to the origin as DST publishes them *now*.

    At an origin no pair of scores a year apart is published yet (births arrive ~18 months late), so a
    real-time scale would be undefined for every graded score row; the scale only normalises grading, and
    the forecasts and intervals are unchanged by data released after the origin (test above).
    """
    # made 2023-07-11: DEMO14 2019–2021 out; scores run from 2021Q4 (four quarters + 8 earlier balances), and
    # every one from 2022Q1 on holds 2022 or 2023 births in its four quarters
    origin = "2023Q2"
    made = origin_date(origin)
    noisy = base.panel.copy()
    unreleased = noisy["quarter"].map(lambda q: demo14_release_date(quarter_year(q)) > made)
    noisy.loc[unreleased & noisy["births"].notna(), "births"] *= 5
    assert not score_scale(base.panel, origin).equals(score_scale(panel_scores(noisy), origin))


def test_every_horizon_is_graded_on_published_counts_and_ignores_nowcasts(base, perturbed):
    keys = [*KEYS, "horizon"]
    a = base.by_horizon[base.by_horizon["actual"].notna()].sort_values(keys, ignore_index=True)
    counts = base.panel.set_index(["sector", "quarter"])["bankruptcies"].astype("float64")
    expected = counts.reindex(pd.MultiIndex.from_frame(a[["sector", "target_quarter"]])).to_numpy()
    np.testing.assert_array_equal(a["actual"].to_numpy(), expected)
    # the panel ends 2024Q4: from origin 2024Q3 only horizon 1 is graded, from 2024Q4 none
    graded_h = a[a["origin"] == "2024Q3"]["horizon"].unique().tolist()
    assert graded_h == [1] and a[a["origin"] == "2024Q4"].empty
    assert sorted(a["horizon"].unique()) == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(base.by_horizon, perturbed.by_horizon)
