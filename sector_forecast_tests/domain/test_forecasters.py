"""Count models: fit/predict, baselines, MASE scales, the domain's training window, rolling cross-validation,
determinism, picklability and rolling-origin no-look-ahead."""

from __future__ import annotations

import io
import json

import joblib
import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts.forecasting import PREDICTIONS_SCHEMA
from sector_forecast.contracts.validation import validate
from sector_forecast.domain.features import FEATURE_COLUMNS, build_features
from sector_forecast.domain.forecasters import (
    BACKTEST_COLUMNS,
    BASELINES,
    CHALLENGERS,
    MIN_SCALE,
    MODELS,
    TRAIN_WINDOW_QUARTERS,
    fit_model,
    mase_scales,
    rolling_origin_fit,
    training_window,
)
from sector_forecast.domain.horizons import backtest
from sector_forecast.domain.periods import quarter_offset, quarter_range
from sector_forecast_tests.domain.conftest import LEVEL

TABLE_MODELS = [n for n in MODELS if MODELS[n].kind != "series"]  # fitted by fit_model, predicted row by row

def window(features: pd.DataFrame, last: str) -> pd.DataFrame:
    return features[features["quarter"] <= last]


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_fit_predict_each_model(features, name):
    train = training_window(features, "2022Q4")  # quarters 2012Q4..2022Q3: targets up to 2022Q4
    model = fit_model(name, train)
    pred = model.predict(features[features["quarter"] == "2022Q4"])
    assert list(pred.columns) == ["sector", "quarter", "prediction"]
    assert len(pred) == 10 and pred["prediction"].notna().all() and (pred["prediction"] >= 0).all()
    # A count of the right order (not a log, not a share): within a factor 3 of the sector's mean level.
    ratio = pred["prediction"].to_numpy() / pred["sector"].map(LEVEL).to_numpy()
    assert ((ratio > 1 / 3) & (ratio < 3)).all()
    assert model.train_quarters == ("2012Q4", "2022Q3") and model.train_rows == TRAIN_WINDOW_QUARTERS * 10
    # Rolling cross-validation: two blocks of four quarters, the window's last eight.
    assert model.validation_quarters == quarter_range("2020Q4", "2022Q3")
    assert model.params in MODELS[name].grid and len(model.tuning) == len(MODELS[name].grid)
    assert model.validation_mae == min(t["validation_mae"] for t in model.tuning)


def test_the_roles(features):
    assert set(BASELINES) == {"naive", "seasonal_naive", "mean_4q", "theta"}
    assert set(CHALLENGERS) == {"glm", "glm_seasonal", "xgboost"}


def test_rule_baselines_by_hand(features, panel):
    rows = features[features["quarter"] == "2023Q1"].reset_index(drop=True)
    train = training_window(features, "2023Q1")
    by_q = panel.set_index(["sector", "quarter"])["bankruptcies"].astype(float)
    seasonal = fit_model("seasonal_naive", train).predict(rows)
    # The target is 2023Q2; a year earlier is 2022Q2 = three quarters before the origin 2023Q1.
    np.testing.assert_array_equal(seasonal["prediction"], [by_q[(s, "2022Q2")] for s in range(1, 11)])
    naive = fit_model("naive", train).predict(rows)
    np.testing.assert_array_equal(naive["prediction"], [by_q[(s, "2023Q1")] for s in range(1, 11)])
    # Recent mean: the mean of 2022Q2..2023Q1, the four quarters up to the origin.
    mean4 = fit_model("mean_4q", train).predict(rows)
    expected = [np.mean([by_q[(s, q)] for q in quarter_range("2022Q2", "2023Q1")]) for s in range(1, 11)]
    assert mean4["prediction"].tolist() == pytest.approx(expected)


def test_theta_is_statsforecast_autotheta_on_the_window(features, panel):
    from statsforecast.models import AutoTheta

    model, pred = rolling_origin_fit("theta", features, "2023Q1")
    # The series: the window's quarters (2013Q1..2022Q4) then the origin's count, 41 values per sector.
    by_q = panel.set_index(["sector", "quarter"])["bankruptcies"].astype(float)
    y3 = np.array([by_q[(3, q)] for q in quarter_range("2013Q1", "2023Q1")])
    expected = AutoTheta(season_length=4).fit(y3).predict(h=1)["mean"][0]
    assert pred.loc[pred["sector"] == 3, "prediction"].item() == pytest.approx(expected)
    assert set(model.params["variant_by_sector"]) == {str(s) for s in range(1, 11)} and model.missing == {}


def test_a_baseline_that_cannot_forecast_says_so_and_is_never_filled(features):
    rows = features[features["quarter"] == "2023Q1"].copy()
    rows.loc[rows["sector"] == 4, "bankruptcies_lag3"] = np.nan  # DST suppressed the count a year earlier
    noisy = pd.concat([features[features["quarter"] != "2023Q1"], rows])
    model, pred = rolling_origin_fit("seasonal_naive", noisy, "2023Q1")
    assert np.isnan(pred.loc[pred["sector"] == 4, "prediction"].item())  # not the current count, not a mean
    assert pred.loc[pred["sector"] != 4, "prediction"].notna().all()
    assert list(model.missing) == [4] and "bankruptcies_lag3" in model.missing[4]
    assert validate(PREDICTIONS_SCHEMA, pred) == []  # a missing forecast is allowed, and reported
    # Theta on a constant series: missing with the reason, not a flat line.
    flat = features.copy()
    flat.loc[flat["sector"] == 2, "bankruptcies"] = 5.0
    model, pred = rolling_origin_fit("theta", flat, "2023Q1")
    assert np.isnan(pred.loc[pred["sector"] == 2, "prediction"].item()) and "constant" in model.missing[2]


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_deterministic_and_picklable(features, name):
    train = training_window(features, "2022Q4")
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


@pytest.mark.parametrize("name", list(MODELS))
def test_one_fit_however_the_rows_are_batched(features, name):
    """The window is the domain's: handed every quarter, or only the 40 before the origin, the fit is the same."""
    origin = "2023Q2"
    model, whole = rolling_origin_fit(name, features, origin)
    first = quarter_offset(origin, -TRAIN_WINDOW_QUARTERS)  # 2013Q2
    model2, windowed = rolling_origin_fit(name, features[features["quarter"] >= first], origin)
    pd.testing.assert_frame_equal(whole, windowed)
    assert model.summary() == model2.summary()
    if MODELS[name].kind != "series":
        assert model.train_quarters == (first, quarter_offset(origin, -1))


def test_model_scales_come_from_its_training_window(features):
    train = training_window(features, "2022Q4")
    model = fit_model("naive", train)
    assert model.scales == mase_scales(train)
    s4 = train[train["sector"] == 4]
    by_hand = (s4["bankruptcies"] - s4["bankruptcies_lag4"]).abs().mean()
    assert model.scales[4] == pytest.approx(by_hand)
    assert model.scales != mase_scales(training_window(features, "2023Q3"))  # a later window, another scale


def test_cross_validation_is_time_ordered_blocks_at_the_end_of_the_window(features):
    train = training_window(features, "2022Q4")
    # A short window cross-validates on its last half: 6 quarters -> 3, one block of at most four.
    short = features[features["quarter"].between("2021Q2", "2022Q3")]
    assert fit_model("glm", short).validation_quarters == ["2022Q1", "2022Q2", "2022Q3"]
    # Never a random split: the same eight quarters whatever the row order.
    shuffled = fit_model("glm", train.sample(frac=1.0, random_state=5))
    assert shuffled.validation_quarters == quarter_range("2020Q4", "2022Q3")


def test_validation_residuals_are_out_of_fold_pearson_residuals(features):
    train = training_window(features, "2022Q4")
    val = train[train["quarter"] >= "2020Q4"].sort_values(["quarter", "sector"])
    y, mu = val["target"].to_numpy(), val["bankruptcies"].to_numpy()
    naive = fit_model("naive", train)
    # Persistence predicts this quarter's count: r = (y − μ)/sqrt(μ + 1), rows in (quarter, sector) order
    assert [s for s, _ in naive.validation_residuals] == val["sector"].tolist()
    assert [r for _, r in naive.validation_residuals] == pytest.approx((y - mu) / np.sqrt(mu + 1))
    scale = val["sector"].map(naive.scales).to_numpy()
    assert naive.validation_mae == pytest.approx(np.mean(np.abs(y - mu) / scale))
    # A learned model: each block is predicted by a fit on the quarters before it only (refitting by hand
    # reproduces the residuals, so no validation row was fitted).
    glm = fit_model("glm", train)
    spec = MODELS["glm"]
    expected = []
    for block in (quarter_range("2020Q4", "2021Q3"), quarter_range("2021Q4", "2022Q3")):
        fit_part = train[train["quarter"] < block[0]].sort_values(["quarter", "sector"], ignore_index=True)
        rows = val[val["quarter"].isin(block)]
        est = spec.build(glm.params, 0).fit(spec.design(fit_part), fit_part["target"].to_numpy())
        m = np.maximum(est.predict(spec.design(rows)), 0.0)
        expected += list((rows["target"].to_numpy() - m) / np.sqrt(m + 1))
    assert [r for _, r in glm.validation_residuals] == pytest.approx(expected)
    assert len(glm.validation_residuals) == 8 * 10


def test_summary_round_trips_through_json(features):
    model = fit_model("xgboost", training_window(features, "2021Q4"))
    summary = model.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert json.loads(json.dumps(model.tuning)) == model.tuning


@pytest.mark.parametrize("name", list(MODELS))
def test_rolling_origin_never_sees_later_targets(features, name):
    origin = "2021Q2"
    model, base = rolling_origin_fit(name, features, origin)
    assert model.train_quarters[1] == "2021Q1"  # its target is 2021Q2's count, known at the origin
    noisy = features.copy()
    after = noisy["quarter"] >= origin  # their targets are counts of quarters after the origin
    noisy.loc[after, "target"] = 0.0
    floats = [c for c in FEATURE_COLUMNS if c not in ("sector", "quarter_of_year")]
    noisy.loc[noisy["quarter"] > origin, [*floats, "bankruptcies", "bankruptcies_lag3", "bankruptcies_lag4",
                                                   "bankruptcies_mean_4q"]] = 0.5
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
    preds, vals = backtest(features, origins, names=["naive", "glm"], horizons=(1,))
    assert validate(PREDICTIONS_SCHEMA, preds) == []
    assert sorted(preds.groupby(["model", "origin"]).size().items()) == [
        (("glm", "2021Q4"), 10), (("glm", "2022Q2"), 10), (("naive", "2021Q4"), 10), (("naive", "2022Q2"), 10)]
    assert list(vals.columns) == ["model", "origin", "sector", "residual", "horizon"]
    assert vals.groupby(["model", "origin"]).size().eq(80).all()  # 8 cross-validation quarters × 10 sectors


def test_unknown_model_and_too_short_window(features):
    with pytest.raises(ValueError, match="unknown model"):
        fit_model("lstm", features)
    with pytest.raises(ValueError, match="at least 2 quarters"):
        fit_model("glm", features[features["quarter"] == "2019Q1"])
    with pytest.raises(ValueError, match="at least 2 quarters"):
        fit_model("naive", features[features["quarter"] == "2023Q4"])  # no target known yet
    with pytest.raises(ValueError, match="no feature rows for origin 2030Q1"):
        rolling_origin_fit("naive", features, "2030Q1")
