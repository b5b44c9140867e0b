"""The `sector-vitality` pyfunc in-process, on a small synthetic model: its contract and its validation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, ErrorCode

from sector_forecast.domain import models
from sector_forecast.domain.features import FEATURE_FRAME_COLUMNS
from sector_forecast.domain.periods import quarter_of_year, quarter_offset, quarter_range
from sector_forecast.tracking import pyfunc as serving

ORIGIN = "2022Q2"
QUANTILES = {s: {0.8: 1.0, 0.95: 2.0} for s in range(1, 11)}  # Pearson-scale: ±1 and ±2 sqrt(mu + 1)


def synthetic_features() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    quarters = quarter_range("2019Q1", ORIGIN)
    frame = pd.DataFrame([{"sector": s, "quarter": q} for q in quarters for s in range(1, 11)])
    for col in FEATURE_FRAME_COLUMNS[3:]:
        frame[col] = rng.uniform(0.5, 1.0, len(frame))
    for col in ("bankruptcies", "bankruptcies_lag3", "bankruptcies_lag4", "target"):
        frame[col] = rng.poisson(20, len(frame)).astype("float64")
    frame["target_quarter"] = frame["quarter"].map(lambda q: quarter_offset(q, 1))
    frame["quarter_of_year"] = frame["target_quarter"].map(quarter_of_year).astype("int64")
    frame.loc[frame["quarter"] == ORIGIN, "target"] = np.nan
    return frame[FEATURE_FRAME_COLUMNS]


@pytest.fixture(scope="module")
def pyfunc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("pyfunc")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    features = synthetic_features()
    fitted = models.fit_model("glm", features[features["quarter"] < ORIGIN])
    exp = mlflow.create_experiment("pyfunc-test", artifact_location=(root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=exp):
        info = serving.log_serving_model(fitted, features, model="glm", origin=ORIGIN, quantiles=QUANTILES,
                                         data_source="test data", workdir=Path(root / "work"))
    yield mlflow.pyfunc.load_model(info.model_uri), features
    mlflow.set_tracking_uri(previous)


def error_code(err: MlflowException) -> int:
    return ErrorCode.Value(err.error_code)


def test_sector_alone_forecasts_the_quarter_after_the_origin(pyfunc) -> None:
    model, features = pyfunc
    out = model.predict(pd.DataFrame({"sector": [3, 1]}))
    assert list(out.columns) == serving.OUTPUT_COLUMNS
    assert out["quarter"].tolist() == ["2022Q3", "2022Q3"] and out["sector"].tolist() == [3, 1]
    assert (out["model_origin"] == ORIGIN).all() and (out["data_source"] == "test data").all()
    # mu >= 1 here, so no bound is cut at 0: 80% = mu ± 1·sqrt(mu+1), 95% = mu ± 2·sqrt(mu+1).
    half = np.sqrt(out["prediction"] + 1)
    np.testing.assert_allclose(out["upper80"] - out["prediction"], half)
    np.testing.assert_allclose(out["upper95"] - out["prediction"], 2 * half)
    np.testing.assert_allclose(out["prediction"] - out["lower80"], half)


def test_explicit_features_give_the_same_forecast_as_the_stored_rows(pyfunc) -> None:
    model, features = pyfunc
    rows = features[features["quarter"] == "2021Q4"]
    stored = model.predict(pd.DataFrame({"sector": rows["sector"], "quarter": "2022Q1"}))
    explicit = model.predict(rows[["sector", *serving.EXPLICIT_COLUMNS]].assign(quarter="2022Q1"))
    pd.testing.assert_frame_equal(stored, explicit)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (pd.DataFrame({"sector": [12]}), "unknown sector code(s) [12]"),
        (pd.DataFrame({"sector": [2.5]}), "'sector' must be an integer 1–10"),
        (pd.DataFrame({"sector": ["4"]}), "'sector' must be an integer 1–10, got '4' (str)"),
        (pd.DataFrame({"quarter": ["2022Q3"]}), "missing required field 'sector'"),
        (pd.DataFrame({"sector": [1], "quarter": ["2018Q1"]}), "outside the data: this model forecasts"),
        (pd.DataFrame({"sector": [1], "quarter": ["22Q3"]}), "'quarter' must be a string like '2026Q4'"),
        (pd.DataFrame({"sector": [1], "Sector": [1]}), "unknown field(s) ['Sector']"),
        (pd.DataFrame({"sector": [1], **{c: ["x"] for c in serving.EXPLICIT_COLUMNS}}), "must be a number or null"),
        (pd.DataFrame(), "empty request"),
    ],
)
def test_bad_requests_raise_invalid_parameter(pyfunc, frame: pd.DataFrame, expected: str) -> None:
    model, _ = pyfunc
    with pytest.raises(MlflowException) as err:
        model.predict(frame)
    assert expected in err.value.message and error_code(err.value) == INVALID_PARAMETER_VALUE


def test_a_scoring_bug_is_a_one_line_internal_error(pyfunc, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = pyfunc
    inner = model.unwrap_python_model()

    def broken(_frame: pd.DataFrame) -> pd.DataFrame:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(inner.fitted, "predict", broken)
    with pytest.raises(MlflowException) as err:
        model.predict(pd.DataFrame({"sector": [1]}))
    assert err.value.message == "scoring failed: ZeroDivisionError: boom"
    assert error_code(err.value) == INTERNAL_ERROR
