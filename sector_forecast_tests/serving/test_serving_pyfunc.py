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

from sector_forecast import serving
from sector_forecast.domain import models
from sector_forecast.domain.features import FEATURE_COLUMNS, FEATURE_FRAME_COLUMNS
from sector_forecast.domain.periods import quarter_of_year, quarter_range

ORIGIN = "2022Q2"


def synthetic_features() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    quarters = quarter_range("2019Q1", ORIGIN)
    frame = pd.DataFrame([{"sector": s, "quarter": q} for q in quarters for s in range(1, 11)])
    for col in FEATURE_FRAME_COLUMNS[2:]:
        frame[col] = rng.uniform(0.5, 1.0, len(frame))
    frame["quarter_of_year"] = frame["quarter"].map(quarter_of_year).astype("int64")
    frame["births_nowcast"] = 0
    frame.loc[frame["quarter"] == ORIGIN, "target"] = np.nan
    return frame[FEATURE_FRAME_COLUMNS]


@pytest.fixture(scope="module")
def pyfunc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("pyfunc")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    features = synthetic_features()
    fitted = models.fit_model("ridge", features[features["quarter"] < ORIGIN])
    exp = mlflow.create_experiment("pyfunc-test", artifact_location=(root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=exp):
        info = serving.log_serving_model(fitted, features, model="ridge", origin=ORIGIN,
                                         interval_halfwidth=0.02, coverage=0.8, workdir=Path(root / "work"))
    yield mlflow.pyfunc.load_model(info.model_uri), features
    mlflow.set_tracking_uri(previous)


def error_code(err: MlflowException) -> int:
    return ErrorCode.Value(err.error_code)


def test_sector_alone_forecasts_the_quarter_after_the_origin(pyfunc) -> None:
    model, features = pyfunc
    out = model.predict(pd.DataFrame({"sector": [3, 1]}))
    assert list(out.columns) == serving.OUTPUT_COLUMNS
    assert out["quarter"].tolist() == ["2022Q3", "2022Q3"] and out["sector"].tolist() == [3, 1]
    assert ((out["upper"] - out["lower"]) <= 0.04 + 1e-12).all() and (out["model_origin"] == ORIGIN).all()


def test_explicit_features_give_the_same_forecast_as_the_stored_rows(pyfunc) -> None:
    model, features = pyfunc
    rows = features[features["quarter"] == "2021Q4"]
    stored = model.predict(pd.DataFrame({"sector": rows["sector"], "quarter": "2022Q1"}))
    explicit = model.predict(rows[FEATURE_COLUMNS].assign(quarter="2022Q1"))
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
        (pd.DataFrame({"sector": [1], **{c: ["x"] for c in FEATURE_COLUMNS[1:]}}), "must be a number or null"),
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
