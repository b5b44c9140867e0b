"""Count models: fit/predict, baselines, MASE scales, time-ordered tuning, determinism, picklability and
rolling-origin no-look-ahead."""

from __future__ import annotations

import io
import json

import joblib
import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts.models import PREDICTIONS_SCHEMA
from sector_forecast.contracts.validation import validate
from sector_forecast.domain.features import FEATURE_COLUMNS, build_features
from sector_forecast.domain.models import (
    BACKTEST_COLUMNS,
    BASELINES,
    MIN_SCALE,
    MODELS,
    backtest,
    fit_model,
    mase_scales,
    rolling_origin_fit,
)
from sector_forecast.domain.periods import quarter_of_year, quarter_range, quarter_year

LEVEL = {s: 4 + 3 * s for s in range(1, 11)}  # mean bankruptcies a quarter: 7 … 34
SEASON = {1: 1.25, 2: 1.0, 3: 0.8, 4: 0.95}


def make_panel(seed: int = 3) -> pd.DataFrame:
    """2012Q1–2023Q4, ten sectors, seasonal Poisson counts; births published 2019–2022, nowcast 2023."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in quarter_range("2012Q1", "2023Q4"):
        year = quarter_year(q)
        for s in range(1, 11):
            annual = {y: 400.0 * s + 40.0 * (y - 2019) for y in range(2019, 2023)}
            births = annual[year] / 4 if year in annual else np.nan
            if year == 2023:  # mean of the last three published years
                births = np.mean([annual[y] for y in (2020, 2021, 2022)]) / 4
            prov = "unavailable" if year < 2019 else ("nowcast" if year == 2023 else "published")
            rows.append((s, q, int(rng.poisson(LEVEL[s] * SEASON[quarter_of_year(q)])), births, prov))
    panel = pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance"])
    return panel.astype({"bankruptcies": "Int64"})


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel()


@pytest.fixture(scope="module")
def features(panel) -> pd.DataFrame:
    return build_features(panel, quarter_range("2012Q1", "2023Q4"))


def window(features: pd.DataFrame, last: str) -> pd.DataFrame:
    return features[features["quarter"] <= last]


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_predict_each_model(features, name):
    train = window(features, "2022Q3")  # targets up to 2022Q4
    model = fit_model(name, train)
    pred = model.predict(features[features["quarter"] == "2022Q4"])
    assert list(pred.columns) == ["sector", "quarter", "prediction"]
    assert len(pred) == 10 and pred["prediction"].notna().all() and (pred["prediction"] >= 0).all()
    # A count of the right order (not a log, not a share): within a factor 3 of the sector's mean level.
    ratio = pred["prediction"].to_numpy() / pred["sector"].map(LEVEL).to_numpy()
    assert ((ratio > 1 / 3) & (ratio < 3)).all()
    assert model.train_quarters == ("2012Q1", "2022Q3") and model.train_rows == 43 * 10
    assert model.validation_quarters == ["2021Q4", "2022Q1", "2022Q2", "2022Q3"]
    assert model.params in MODELS[name].grid and len(model.tuning) == len(MODELS[name].grid)
    assert model.validation_mae == min(t["validation_mae"] for t in model.tuning)


def test_baselines_are_persistence_and_same_quarter_last_year(features, panel):
    assert set(BASELINES) == {"naive", "seasonal_naive"}
    rows = features[features["quarter"] == "2023Q1"].reset_index(drop=True)
    seasonal = fit_model("seasonal_naive", window(features, "2022Q3")).predict(rows)
    # The target is 2023Q2; a year earlier is 2022Q2 = three quarters before the origin 2023Q1.
    np.testing.assert_array_equal(seasonal["prediction"], rows["bankruptcies_lag3"])
    by_q = panel.set_index(["sector", "quarter"])["bankruptcies"].astype(float)
    np.testing.assert_array_equal(seasonal["prediction"], [by_q[(s, "2022Q2")] for s in range(1, 11)])
    naive = fit_model("naive", window(features, "2022Q3")).predict(rows)
    np.testing.assert_array_equal(naive["prediction"], [by_q[(s, "2023Q1")] for s in range(1, 11)])


def test_baseline_falls_back_when_its_column_is_missing(features):
    train = window(features, "2022Q3")
    model = fit_model("seasonal_naive", train)
    rows = features[features["quarter"] == "2023Q1"].copy()
    rows["bankruptcies_lag3"] = np.nan
    # first fallback: this quarter's count
    np.testing.assert_array_equal(model.predict(rows)["prediction"], rows["bankruptcies"])
    rows["bankruptcies"] = np.nan
    # then the sector's mean target over the training rows
    means = train.groupby("sector")["target"].mean()
    assert model.predict(rows)["prediction"].tolist() == pytest.approx(means.loc[range(1, 11)].tolist())


@pytest.mark.parametrize("name", list(MODELS))
def test_deterministic_and_picklable(features, name):
    train = window(features, "2022Q3")
    rows = features[features["quarter"] == "2022Q4"]
    a = fit_model(name, train, seed=7).predict(rows)
    # Same rows in another order: the fit sorts them first, so the model is bit-identical.
    b = fit_model(name, train.sample(frac=1.0, random_state=2), seed=7).predict(rows)
    pd.testing.assert_frame_equal(a, b)
    buf = io.BytesIO()
    joblib.dump(fit_model(name, train, seed=7), buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    pd.testing.assert_frame_equal(loaded.predict(rows), a)
    assert loaded.summary() == fit_model(name, train, seed=7).summary()


def test_mase_scales_by_hand():
    rows = pd.DataFrame({
        "sector": [1, 1, 1, 2, 2, 3],
        "bankruptcies": [10.0, 12.0, 7.0, 5.0, 5.0, 4.0],
        "bankruptcies_lag4": [8.0, 12.0, 10.0, 5.0, 5.0, np.nan],
    })
    scales = mase_scales(rows)
    # sector 1: |10−8|, |12−12|, |7−10| = 2, 0, 3 → mean 5/3
    assert scales[1] == pytest.approx(5 / 3)
    # sector 2 never moved year on year (0) and sector 3 has no pair (NaN): both MIN_SCALE, never 0 or NaN
    assert scales[2] == MIN_SCALE == 1.0 and scales[3] == MIN_SCALE
    # the sectors absent from the rows are there too, with the same floor
    assert sorted(scales) == list(range(1, 11)) and all(scales[s] == MIN_SCALE for s in range(4, 11))


def test_model_scales_come_from_its_training_window(features):
    train = window(features, "2022Q3")
    model = fit_model("naive", train)
    assert model.scales == mase_scales(train)
    s4 = train[train["sector"] == 4]
    by_hand = (s4["bankruptcies"] - s4["bankruptcies_lag4"]).abs().mean()  # the first year has no lag4: skipped
    assert model.scales[4] == pytest.approx(by_hand)
    assert model.scales != mase_scales(window(features, "2023Q2"))  # a later window, a different scale


def test_validation_is_the_last_quarters_of_the_window(features):
    train = window(features, "2022Q3")
    assert fit_model("glm", train, validation_quarters=2).validation_quarters == ["2022Q2", "2022Q3"]
    # A short window tunes on its last quarter only: k = min(4, max(1, 6 quarters // 4)) = 1
    short = features[features["quarter"].between("2021Q2", "2022Q3")]
    assert fit_model("glm", short).validation_quarters == ["2022Q3"]
    # Never a random split: the same four quarters whatever the row order.
    shuffled = fit_model("glm", train.sample(frac=1.0, random_state=5))
    assert shuffled.validation_quarters == ["2021Q4", "2022Q1", "2022Q2", "2022Q3"]


def test_validation_residuals_are_pearson_residuals_of_the_last_quarters(features):
    train = window(features, "2022Q3")
    val = train[train["quarter"] >= "2021Q4"].sort_values(["quarter", "sector"])
    y, mu = val["target"].to_numpy(), val["bankruptcies"].to_numpy()
    naive = fit_model("naive", train)
    # Persistence predicts this quarter's count: r = (y − μ)/sqrt(μ + 1), rows in (quarter, sector) order
    assert [s for s, _ in naive.validation_residuals] == val["sector"].tolist()
    assert [r for _, r in naive.validation_residuals] == pytest.approx((y - mu) / np.sqrt(mu + 1))
    # validation MAE scales each |error| by its sector's MASE scale
    scale = val["sector"].map(naive.scales).to_numpy()
    assert naive.validation_mae == pytest.approx(np.mean(np.abs(y - mu) / scale))
    # A learned model: the winner's residuals come from its fit on the quarters *before* validation only
    # (refitting by hand on those quarters reproduces them, so no validation row was fitted)
    glm = fit_model("glm", train)
    spec = MODELS["glm"]
    fit_part = train[train["quarter"] < "2021Q4"].sort_values(["quarter", "sector"], ignore_index=True)
    est = spec.build(glm.params, 0).fit(spec.design(fit_part), fit_part["target"].to_numpy())
    mu_glm = np.maximum(est.predict(spec.design(val)), 0.0)
    assert [r for _, r in glm.validation_residuals] == pytest.approx((y - mu_glm) / np.sqrt(mu_glm + 1))
    assert len(glm.validation_residuals) == 4 * 10


def test_params_are_json_serialisable(features):
    model = fit_model("xgboost", window(features, "2021Q4"))
    json.dumps(model.summary())
    json.dumps(model.tuning)
    json.dumps(model.validation_residuals)


@pytest.mark.parametrize("name", list(MODELS))
def test_rolling_origin_never_sees_later_targets(features, name):
    origin = "2021Q2"
    model, base = rolling_origin_fit(name, features, origin)
    assert model.train_quarters[1] == "2021Q1"  # its target is 2021Q2's count, known at the origin
    noisy = features.copy()
    after = noisy["quarter"] >= origin  # their targets are counts of quarters after the origin
    noisy.loc[after, "target"] = 0.0
    floats = [c for c in FEATURE_COLUMNS if c not in ("sector", "quarter_of_year")]
    noisy.loc[noisy["quarter"] > origin, [*floats, "bankruptcies", "bankruptcies_lag3", "bankruptcies_lag4"]] = 0.5
    _, changed = rolling_origin_fit(name, noisy, origin)
    cols = ["sector", "prediction", "current", "scale"]
    pd.testing.assert_frame_equal(base[cols], changed[cols])
    assert (changed["actual"] == 0.0).all()  # the actual is reported, never used for fitting
    assert list(base.columns) == BACKTEST_COLUMNS
    assert (base["target_quarter"] == "2021Q3").all() and (base["origin"] == origin).all()
    assert (base["model"] == name).all() and base["sector"].tolist() == list(range(1, 11))
    current = features[features["quarter"] == origin].sort_values("sector")
    np.testing.assert_array_equal(base["actual"], current["target"])
    np.testing.assert_array_equal(base["current"], current["bankruptcies"])
    assert base["scale"].tolist() == [model.scales[s] for s in range(1, 11)]
    assert validate(PREDICTIONS_SCHEMA, base) == []


@pytest.mark.parametrize("name", ["glm", "xgboost"])
def test_rolling_origin_never_sees_the_later_panel(panel, features, name):
    """End to end: features rebuilt from a panel whose every quarter after the origin is absurd."""
    origin = "2021Q2"
    _, base = rolling_origin_fit(name, features, origin)
    noisy = panel.copy()
    noisy.loc[noisy["quarter"] > origin, "bankruptcies"] = 10_000
    _, changed = rolling_origin_fit(name, build_features(noisy, quarter_range("2012Q1", "2023Q4")), origin)
    pd.testing.assert_series_equal(base["prediction"], changed["prediction"])
    assert (changed["actual"] == 10_000).all()


def test_backtest_covers_models_and_origins(features):
    origins = ["2021Q4", "2022Q2"]
    preds, vals = backtest(features, origins, names=["naive", "glm"])
    assert validate(PREDICTIONS_SCHEMA, preds) == []
    assert sorted(preds.groupby(["model", "origin"]).size().items()) == [
        (("glm", "2021Q4"), 10), (("glm", "2022Q2"), 10), (("naive", "2021Q4"), 10), (("naive", "2022Q2"), 10)]
    assert list(vals.columns) == ["model", "origin", "sector", "residual"]
    assert vals.groupby(["model", "origin"]).size().eq(40).all()  # 4 validation quarters × 10 sectors


def test_unknown_model_and_too_short_window(features):
    with pytest.raises(ValueError, match="unknown model"):
        fit_model("lstm", features)
    with pytest.raises(ValueError, match="at least 2 quarters"):
        fit_model("glm", features[features["quarter"] == "2019Q1"])
    with pytest.raises(ValueError, match="at least 2 quarters"):
        fit_model("naive", features[features["quarter"] == "2023Q4"])  # no target known yet
    with pytest.raises(ValueError, match="no feature rows for origin 2030Q1"):
        rolling_origin_fit("naive", features, "2030Q1")
