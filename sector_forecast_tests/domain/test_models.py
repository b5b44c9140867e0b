"""Models: fit/predict, determinism, time-ordered tuning, picklability and rolling-origin no-look-ahead."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.contracts import PREDICTIONS_SCHEMA, validate
from sector_forecast.domain.features import FEATURE_COLUMNS, build_features
from sector_forecast.domain.models import MODELS, fit_model, rolling_origin_fit
from sector_forecast.domain.periods import quarter_range
from sector_forecast.domain.score import vitality_score


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for i, q in enumerate(quarter_range("2018Q1", "2023Q4")):
        for s in range(1, 11):
            season = 1 + 0.3 * np.sin(2 * np.pi * i / 4)
            rows.append(
                {
                    "sector": s,
                    "quarter": q,
                    "bankruptcies": int(rng.poisson((4 + 2 * s) * season)),
                    "births": np.nan if q < "2019" else float(rng.poisson(30 * s)),
                    "births_provenance": "unavailable" if q < "2019" else "published",
                }
            )
    panel = pd.DataFrame(rows).astype({"bankruptcies": "Int64"})
    panel["score"] = vitality_score(panel["births"], panel["bankruptcies"])
    return build_features(panel, quarter_range("2018Q1", "2023Q4"))


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_predict_each_model(features, name):
    train = features[features["quarter"] <= "2022Q4"]
    model = fit_model(name, train, coverage=0.8)
    pred = model.predict(features[features["quarter"] == "2023Q1"])
    assert list(pred.columns) == ["sector", "quarter", "prediction", "lower", "upper"]
    assert len(pred) == 10 and pred["prediction"].between(0, 1).all()
    assert (pred["lower"] <= pred["prediction"]).all() and (pred["prediction"] <= pred["upper"]).all()
    assert model.coverage == 0.8 and model.interval_halfwidth > 0
    assert model.train_quarters == ("2019Q1", "2022Q4")  # 2018 rows have no score: dropped
    assert model.train_rows == 160
    assert set(model.params) == set(MODELS[name].grid[0])


def test_seasonal_naive_uses_same_quarter_last_year_of_target(features):
    model = fit_model("seasonal_naive", features[features["quarter"] <= "2022Q4"])
    rows = features[features["quarter"] == "2023Q1"]
    pred = model.predict(rows)
    # Target quarter 2023Q2; a year earlier is 2022Q2 = three quarters before the origin 2023Q1.
    assert np.allclose(pred["prediction"], rows["score_lag3"])
    naive = fit_model("naive", features[features["quarter"] <= "2022Q4"]).predict(rows)
    assert np.allclose(naive["prediction"], rows["score"])


def test_baseline_falls_back_when_score_missing(features):
    model = fit_model("naive", features[features["quarter"] <= "2022Q4"])
    rows = features[features["quarter"] == "2023Q1"].copy()
    rows["score"] = np.nan
    assert model.predict(rows)["prediction"].notna().all()


@pytest.mark.parametrize("name", ["ridge", "xgboost"])
def test_deterministic_and_picklable(features, name):
    train = features[features["quarter"] <= "2022Q4"]
    rows = features[features["quarter"] == "2023Q1"]
    a = fit_model(name, train, seed=7).predict(rows)
    b = fit_model(name, train.sample(frac=1.0, random_state=2), seed=7).predict(rows)
    pd.testing.assert_frame_equal(a, b)
    buf = io.BytesIO()
    joblib.dump(fit_model(name, train, seed=7), buf)
    buf.seek(0)
    pd.testing.assert_frame_equal(joblib.load(buf).predict(rows), a)


def test_validation_is_the_last_quarters_of_the_window(features):
    train = features[features["quarter"] <= "2022Q4"]
    model = fit_model("ridge", train, validation_quarters=4)
    assert model.validation_quarters == ["2022Q1", "2022Q2", "2022Q3", "2022Q4"]
    assert len(model.tuning) == len(MODELS["ridge"].grid)
    # Tuning only uses the window: rows after it (even absurd ones) change nothing.
    later = features[features["quarter"] > "2022Q4"].assign(target=0.0, score=1.0)
    again = fit_model("ridge", pd.concat([train, later]).query("quarter <= '2022Q4'"), validation_quarters=4)
    assert again.tuning == model.tuning and again.params == model.params


def test_params_are_json_serialisable(features):
    import json

    model = fit_model("xgboost", features[features["quarter"] <= "2021Q4"])
    json.dumps(model.summary())
    json.dumps(model.tuning)


@pytest.mark.parametrize("name", ["naive", "ridge", "xgboost"])
def test_rolling_origin_never_sees_later_targets(features, name):
    origin = "2022Q2"
    _, base = rolling_origin_fit(name, features, origin)
    noisy = features.copy()
    after = noisy["quarter"] >= origin  # their targets are the scores of quarters after the origin
    noisy.loc[after, "target"] = 0.0
    floats = [c for c in FEATURE_COLUMNS if c not in ("sector", "quarter_of_year", "births_nowcast")]
    noisy.loc[noisy["quarter"] > origin, floats] = 0.5
    _, changed = rolling_origin_fit(name, noisy, origin)
    cols = ["sector", "prediction", "lower", "upper", "current_score"]
    pd.testing.assert_frame_equal(base[cols], changed[cols])
    assert (changed["actual"] == 0.0).all()  # the actual is reported, never used for fitting
    assert (base["target_quarter"] == "2022Q3").all() and (base["origin"] == origin).all()
    assert validate(PREDICTIONS_SCHEMA, base) == []


def test_unknown_model_and_too_short_window(features):
    with pytest.raises(ValueError, match="unknown model"):
        fit_model("lstm", features)
    with pytest.raises(ValueError, match="at least 2 quarters"):
        fit_model("ridge", features[features["quarter"] <= "2019Q1"])
