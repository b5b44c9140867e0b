"""Why a forecast moved: per-input parts of the change of log μ between two origins, for GLMs, XGBoost and
baselines, and the short `why` text the served table can carry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain import explain, horizons
from sector_forecast.domain.features import build_features
from sector_forecast.domain.forecasters import FittedModel, rolling_origin_fit
from sector_forecast.domain.periods import quarter_of_year, quarter_range


def _two_feature_glm(x: pd.DataFrame, y: np.ndarray):
    """Scale x1, x2; one-hot `season` (first level dropped); unpenalised Poisson GLM with a log link."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import PoissonRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer([("num", StandardScaler(), ["x1", "x2"]),
                              ("cat", OneHotEncoder(drop="first", sparse_output=False), ["season"])])
    model = Pipeline([("prep", prep), ("glm", PoissonRegressor(alpha=0.0, solver="newton-cholesky", tol=1e-12))])
    return model.fit(x, y)


def test_glm_parts_are_coefficient_times_change_with_one_hot_grouped() -> None:
    # y = exp(1 + 0.5·x1 − 0.2·x2 + 0.3·[season 2] − 0.4·[season 3]) exactly: the Poisson score equations
    # X'(y − μ) = 0 hold at μ = y, so the unpenalised fit recovers these coefficients (on the scaled columns
    # β·sd, and coefficient × the change of the *scaled* value is again β·Δx: scaling cancels).
    grid = [(a, b, s) for a in (0.0, 1.0, 2.0, 3.0) for b in (0.0, 1.0, 2.0) for s in (1, 2, 3)]
    x = pd.DataFrame(grid, columns=["x1", "x2", "season"])
    y = np.exp(1 + 0.5 * x["x1"] - 0.2 * x["x2"] + 0.3 * (x["season"] == 2) - 0.4 * (x["season"] == 3))
    model = _two_feature_glm(x, y.to_numpy())
    before = pd.DataFrame({"x1": [1.0], "x2": [2.0], "season": [2]})
    now = pd.DataFrame({"x1": [3.0], "x2": [1.0], "season": [3]})
    parts = (explain.contributions(model, now) - explain.contributions(model, before)).iloc[0]
    # x1: 0.5·(3 − 1) = +1.0; x2: −0.2·(1 − 2) = +0.2; season: the two one-hot columns summed back to one
    # feature, (−0.4) − (+0.3) = −0.7. Together +0.5 = log μ(now) − log μ(before).
    assert list(parts.index) == ["x1", "x2", "season"]
    assert parts.to_numpy() == pytest.approx([1.0, 0.2, -0.7], abs=1e-6)
    assert parts.sum() == pytest.approx(float(np.log(model.predict(now)[0] / model.predict(before)[0])), abs=1e-9)


def test_xgboost_stumps_put_the_whole_move_on_the_split_feature() -> None:
    # Depth-1 trees on data where only x1 matters (x2 is constant, so no tree can split on it): each tree's
    # TreeSHAP value lands on x1 alone, so x1's part is the whole change of the margin and x2's is exactly 0.
    from xgboost import XGBRegressor

    x = pd.DataFrame({"x1": np.repeat([0.0, 1.0], 20), "x2": 5.0})
    y = np.repeat([2.0, 8.0], 20)
    model = XGBRegressor(n_estimators=20, max_depth=1, objective="count:poisson", n_jobs=1, random_state=0).fit(x, y)
    before, now = x.iloc[[0]].reset_index(drop=True), x.iloc[[-1]].reset_index(drop=True)
    parts = (explain.contributions(model, now) - explain.contributions(model, before)).iloc[0]
    margin = model.predict(now, output_margin=True)[0] - model.predict(before, output_margin=True)[0]
    assert parts["x2"] == 0.0
    assert parts["x1"] == pytest.approx(float(margin), abs=1e-5)
    assert margin > 0.5  # the fit did learn that x1 = 1 quadruples the count (log 4 ≈ 1.39, damped by the trees)


def _panel() -> pd.DataFrame:
    """2014Q1–2023Q4, ten sectors, seasonal Poisson counts (births are not model inputs)."""
    rng = np.random.default_rng(7)
    season = {1: 1.3, 2: 1.0, 3: 0.8, 4: 0.9}
    rows = [(s, q, int(rng.poisson((4 + 3 * s) * season[quarter_of_year(q)])), np.nan, "unavailable")
            for q in quarter_range("2014Q1", "2023Q4") for s in range(1, 11)]
    panel = pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance"])
    return panel.astype({"bankruptcies": "Int64"})


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return build_features(_panel(), quarter_range("2014Q1", "2023Q3"))


@pytest.mark.parametrize("name", ["glm", "glm_seasonal", "xgboost"])
def test_every_part_and_the_refit_add_up_to_the_move_of_the_forecast(features: pd.DataFrame, name: str) -> None:
    now, pred_now = rolling_origin_fit(name, features, "2023Q2")
    before, pred_before = rolling_origin_fit(name, features, "2023Q1")
    rows_now, rows_before = (features[features["quarter"] == q] for q in ("2023Q2", "2023Q1"))
    parts = explain.explain_change(now, before, rows_now, rows_before, k=1000)
    # The move each origin's own forecast made, from the predictions the backtest stores.
    move = np.log(pred_now.set_index("sector")["prediction"] / pred_before.set_index("sector")["prediction"])
    total = parts.groupby("sector")["contribution"].sum()
    assert total.to_numpy() == pytest.approx(move.to_numpy(), abs=1e-5)
    assert parts.groupby("sector")["change"].first().to_numpy() == pytest.approx(move.to_numpy(), abs=1e-5)
    assert explain.REFIT in set(parts["feature"])
    # The season is the target quarter's: 2023Q3 (3) at the origin 2023Q2, 2023Q2 (2) at 2023Q1.
    season = parts[parts["feature"] == "quarter_of_year"]
    assert set(zip(season["value_before"], season["value_now"], strict=True)) == {(2.0, 3.0)}


def test_the_same_fit_at_both_origins_has_no_refit_part(features: pd.DataFrame) -> None:
    model, _ = rolling_origin_fit("glm", features, "2023Q2")
    rows_now, rows_before = (features[features["quarter"] == q] for q in ("2023Q2", "2023Q1"))
    parts = explain.explain_change(model, model, rows_now, rows_before, k=1000)
    assert parts.loc[parts["feature"] == explain.REFIT, "contribution"].abs().max() == 0.0
    # k keeps the largest parts by size, per sector and horizon.
    top = explain.explain_change(model, model, rows_now, rows_before, k=2)
    assert top.groupby("sector").size().tolist() == [2] * 10
    largest = parts.assign(size=parts["contribution"].abs()).groupby("sector")["size"].max()
    assert top.groupby("sector")["contribution"].apply(lambda c: c.abs().max()).to_numpy() == pytest.approx(
        largest.to_numpy())


def _rule_model(name: str, params: dict | None = None) -> FittedModel:
    return FittedModel(name=name, params=params or {}, train_rows=0, train_quarters=("", ""),
                       validation_quarters=[], validation_mae=float("nan"), tuning=[], seed=0)


def _count_rows(quarter: str, **columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"sector": [1, 2], "quarter": quarter, **columns})


def test_naive_says_the_count_moved_and_its_log_change() -> None:
    now = _count_rows("2026Q3", bankruptcies=[6.0, 0.0])
    before = _count_rows("2026Q2", bankruptcies=[12.0, 3.0])
    parts = explain.explain_change(_rule_model("naive"), _rule_model("naive"), now, before)
    # Sector 1: log(6/12) = −0.693; sector 2 fell to 0, whose log is −∞: no number, the sentence still says it.
    assert parts["contribution"].iloc[0] == pytest.approx(np.log(0.5))
    assert np.isnan(parts["contribution"].iloc[1])
    table = explain.explain_table(parts)
    assert table["why"].tolist() == ["baseline: the forecast is this quarter's count, 12 -> 6",
                                     "baseline: the forecast is this quarter's count, 3 -> 0"]


def test_recent_mean_names_the_quarter_that_came_in_and_the_one_that_left() -> None:
    # Counts 8, 10, 12, 14 (2025Q3..2026Q2) then 2026Q3 = 18: the mean moves from 11 to (10+12+14+18)/4 = 13.5,
    # because 2026Q3's 18 replaced 2025Q3's 8.
    now = pd.DataFrame({"sector": [4], "quarter": "2026Q3", "bankruptcies": [18.0], "bankruptcies_lag4": [8.0],
                        "bankruptcies_mean_4q": [13.5]})
    before = pd.DataFrame({"sector": [4], "quarter": "2026Q2", "bankruptcies": [14.0],
                           "bankruptcies_lag4": [6.0], "bankruptcies_mean_4q": [11.0]})
    parts = explain.explain_change(_rule_model("mean_4q"), _rule_model("mean_4q"), now, before)
    assert parts["contribution"].iloc[0] == pytest.approx(np.log(13.5 / 11))
    assert explain.explain_table(parts)["why"].iloc[0] == (
        "baseline: the forecast is the mean count of the last four quarters, 11 -> 13.5 "
        "(2026Q3's 18 replaced 2025Q3's 8)")


def test_theta_names_its_variant_and_the_newest_count() -> None:
    model = _rule_model("theta", {"variant_by_sector": {"1": "OTM"}})
    now, before = _count_rows("2026Q3", bankruptcies=[6.0, 9.0]), _count_rows("2026Q2", bankruptcies=[5.0, 9.0])
    why = explain.explain_table(explain.explain_change(model, model, now, before))["why"].tolist()
    assert why[0] == ("baseline: the forecast extrapolates the sector's quarterly counts with AutoTheta (OTM); "
                      "the newest count moved 5 -> 6")
    assert "no variant: not fitted" in why[1]


def test_horizon_comes_from_the_rows_and_defaults_to_one() -> None:
    now = _count_rows("2026Q3", bankruptcies=[6.0, 7.0])
    before = _count_rows("2026Q2", bankruptcies=[3.0, 7.0])
    naive = _rule_model("naive")
    assert explain.explain_change(naive, naive, now, before)["horizon"].tolist() == [1, 1]
    stacked_now = pd.concat([now.assign(horizon=1), now.assign(horizon=2, bankruptcies=[8.0, 7.0])])
    stacked_before = pd.concat([before.assign(horizon=h) for h in (1, 2)])
    parts = explain.explain_change(naive, naive, stacked_now, stacked_before)
    assert list(zip(parts["horizon"], parts["sector"], parts["value_now"], strict=True)) == [
        (1, 1, 6.0), (1, 2, 7.0), (2, 1, 8.0), (2, 2, 7.0)]
    table = explain.explain_table(parts)
    assert list(zip(table["sector"], table["origin"], table["horizon"], strict=True)) == [
        (1, "2026Q3", 1), (1, "2026Q3", 2), (2, "2026Q3", 1), (2, "2026Q3", 2)]


def test_why_lists_the_move_then_its_largest_parts() -> None:
    parts = pd.DataFrame({
        "sector": 3, "origin": "2026Q3", "horizon": 1, "feature": ["log_lag0", "growth_yoy", "refit"],
        "contribution": [0.214, -0.051, 0.02], "value_now": [3.1, 0.2, np.nan], "value_before": [2.9, 0.1, np.nan],
        "change": 0.183, "reason": "",
    })
    assert explain.explain_table(parts).to_dict("records") == [{
        "sector": 3, "origin": "2026Q3", "horizon": 1,
        "why": "log mean +0.18: log_lag0 +0.21, growth_yoy -0.05, refit +0.02"}]


def test_two_different_models_are_refused() -> None:
    rows = _count_rows("2026Q3", bankruptcies=[1.0, 2.0])
    with pytest.raises(ValueError, match="one model at two origins"):
        explain.explain_change(_rule_model("naive"), _rule_model("mean_4q"), rows, rows)


def test_explain_origins_refits_the_backtests_fits(features: pd.DataFrame) -> None:
    # The same model, window and seed as the fit partitions: the refit's forecasts are the backtest's, and its
    # explanation is explain_change of those fits; two consecutive origins share the fit of the middle one.
    parts, refit = explain.explain_origins("glm_seasonal", features, ["2023Q2", "2023Q1"], horizons=(1,))
    fits = {q: rolling_origin_fit("glm_seasonal", features, q) for q in ("2022Q4", "2023Q1", "2023Q2")}
    assert refit["prediction"].tolist() == [*fits["2023Q1"][1]["prediction"], *fits["2023Q2"][1]["prediction"]]
    rows = {q: features[features["quarter"] == q] for q in fits}
    expected = pd.concat([explain.explain_change(fits[o][0], fits[b][0], rows[o], rows[b])
                          for o, b in (("2023Q1", "2022Q4"), ("2023Q2", "2023Q1"))], ignore_index=True)
    pd.testing.assert_frame_equal(parts, expected)
    with pytest.raises(ValueError, match="no feature rows for origin 2023Q4"):  # the features end at 2023Q3
        explain.explain_origins("glm_seasonal", features, ["2023Q4"])


def test_theta_states_how_its_forecast_moved(features: pd.DataFrame) -> None:
    parts, _ = explain.explain_origins("theta", features, ["2023Q2"], horizons=(1,))
    _, now = rolling_origin_fit("theta", features, "2023Q2")
    _, before = rolling_origin_fit("theta", features, "2023Q1")
    # The whole move of log μ from the two forecasts, and the same two numbers (2 decimals) in the sentence.
    a, b = now["prediction"].iloc[0], before["prediction"].iloc[0]
    assert parts["change"].iloc[0] == pytest.approx(np.log(a / b))
    assert parts["reason"].iloc[0].endswith(f"; the forecast moved {round(b, 2):g} -> {round(a, 2):g}")


def test_every_horizon_is_explained_by_its_own_direct_fit(features: pd.DataFrame) -> None:
    parts, refit = explain.explain_origins("glm", features, ["2023Q2"], k=50)  # k = 50: every part kept
    assert sorted(set(parts["horizon"])) == [1, 2, 3, 4]
    fits = {q: horizons.horizon_fits("glm", features, q) for q in ("2023Q1", "2023Q2")}
    for h in (2, 4):
        (now, rows_now, values), (then, rows_then, _) = fits["2023Q2"][h], fits["2023Q1"][h]
        expected = explain.explain_change(now, then, rows_now.assign(horizon=h), rows_then.assign(horizon=h), k=50)
        pd.testing.assert_frame_equal(parts[parts["horizon"] == h].reset_index(drop=True), expected)
        np.testing.assert_allclose(refit.loc[refit["horizon"] == h, "prediction"], values)
    # each horizon's parts add up to its own move, and the direct fits differ, so the explanations do
    sums = parts.groupby(["sector", "horizon"]).agg(total=("contribution", "sum"), change=("change", "first"))
    np.testing.assert_allclose(sums["total"], sums["change"], atol=1e-9)
    one, four = (parts[parts["horizon"] == h].set_index(["sector", "feature"])["contribution"] for h in (1, 4))
    assert not np.allclose(one.sort_index(), four.sort_index())
