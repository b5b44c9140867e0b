"""The `sector-vitality` pyfunc in-process, on a small synthetic forecast table: its contract and its validation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, ErrorCode

from sector_forecast.domain.periods import quarter_offset, quarter_range
from sector_forecast.tracking import pyfunc as serving

ORIGIN = "2022Q2"  # the newest origin: its forecast is for 2022Q3


def synthetic_table() -> pd.DataFrame:
    """A champion's real-time forecasts from origins 2019Q1..2022Q2 at horizons 1–4, intervals as calibrated at each
    origin and horizon."""
    rng = np.random.default_rng(7)
    rows = []
    for origin in quarter_range("2019Q1", ORIGIN):
        for h in (1, 2, 3, 4):
            for s in range(1, 11):
                mu, w = float(rng.uniform(5, 40)), float(rng.uniform(1, 3))  # w: this origin's own interval width
                rows.append({"sector": s, "origin": origin, "horizon": h, "quarter": quarter_offset(origin, h),
                             "prediction": mu, "lower80": max(mu - w, 0.0), "upper80": mu + w,
                             "lower95": max(mu - 2 * w, 0.0), "upper95": mu + 2 * w})
    table = pd.DataFrame(rows)
    gap = (table["sector"] == 9) & (table["origin"] == "2020Q1")
    table.loc[gap, ["prediction", *serving.INTERVAL_COLUMNS]] = np.nan
    newest = (table["origin"] == ORIGIN) & (table["horizon"] == 1)  # champion_model explains only these rows
    why = np.where(newest, "log mean +0.10: log_lag0 +0.08, sector " + table["sector"].astype(str), None)
    return table.assign(missing_reason=np.where(table["prediction"].isna(), "bankruptcies_lag3 unknown", None), why=why)


@pytest.fixture(scope="module")
def pyfunc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("pyfunc")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    table = synthetic_table()
    exp = mlflow.create_experiment("pyfunc-test", artifact_location=(root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=exp):
        info = serving.log_serving_model(table, model="mean_4q", origin=ORIGIN, data_source="test data",
                                         workdir=Path(root / "work"))
    yield mlflow.pyfunc.load_model(info.model_uri), table
    mlflow.set_tracking_uri(previous)


def error_code(err: MlflowException) -> int:
    return ErrorCode.Value(err.error_code)


def test_sector_alone_serves_the_newest_origins_forecast(pyfunc) -> None:
    model, table = pyfunc
    out = model.predict(pd.DataFrame({"sector": [3, 1]}))
    assert list(out.columns) == serving.OUTPUT_COLUMNS
    assert out["quarter"].tolist() == ["2022Q3", "2022Q3"] and out["sector"].tolist() == [3, 1]
    assert (out["model_origin"] == ORIGIN).all() and (out["data_source"] == "test data").all()
    assert (out["model"] == "mean_4q").all()
    expected = table[(table["origin"] == ORIGIN) & (table["horizon"] == 1)].set_index("sector").loc[[3, 1]]
    np.testing.assert_array_equal(out["prediction"], expected["prediction"])
    np.testing.assert_array_equal(out["upper95"], expected["upper95"])


def test_a_past_quarter_is_the_forecast_made_for_it_then(pyfunc) -> None:
    """2021Q1 was forecast at origin 2020Q4, with the interval calibrated then: served as it was graded."""
    model, table = pyfunc
    out = model.predict(pd.DataFrame({"sector": [5], "quarter": ["2021Q1"]}))
    then = table[(table["origin"] == "2020Q4") & (table["sector"] == 5) & (table["horizon"] == 1)].iloc[0]
    assert out["model_origin"].item() == "2020Q4" and out["quarter"].item() == "2021Q1"
    for column in ("prediction", "lower80", "upper80", "lower95", "upper95"):
        assert out[column].item() == then[column]


def test_a_horizon_serves_the_forecast_made_that_many_quarters_before(pyfunc) -> None:
    """2021Q1 at horizon 3 was forecast at origin 2021Q1 − 3 = 2020Q2; no quarter means newest origin + horizon."""
    model, table = pyfunc
    out = model.predict(pd.DataFrame({"sector": [5, 5, 2], "quarter": ["2021Q1", "2021Q1", None],
                                      "horizon": [3, None, 4]}))
    assert out["horizon"].tolist() == [3, 1, 4] and out["quarter"].tolist() == ["2021Q1", "2021Q1", "2023Q2"]
    assert out["model_origin"].tolist() == ["2020Q2", "2020Q4", ORIGIN]
    then = table[(table["origin"] == "2020Q2") & (table["sector"] == 5) & (table["horizon"] == 3)].iloc[0]
    assert out["prediction"].iloc[0] == then["prediction"] and out["upper95"].iloc[0] == then["upper95"]
    assert out["prediction"].iloc[0] != out["prediction"].iloc[1]  # another origin's forecast of the same quarter


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (pd.DataFrame({"sector": [12]}), "unknown sector code(s) [12]"),
        (pd.DataFrame({"sector": [2.5]}), "'sector' must be an integer 1–10"),
        (pd.DataFrame({"sector": ["4"]}), "'sector' must be an integer 1–10, got '4' (str)"),
        (pd.DataFrame({"quarter": ["2022Q3"]}), "missing required field 'sector'"),
        (pd.DataFrame({"sector": [1], "quarter": ["2018Q1"]}),
         "quarter 2018Q1 is outside the data: this model has real-time forecasts for 2019Q2..2022Q3"),
        (pd.DataFrame({"sector": [1], "quarter": ["2022Q4"]}), "quarter 2022Q4 is outside the data"),
        (pd.DataFrame({"sector": [9], "quarter": ["2020Q2"]}),
         "mean_4q made no forecast for sector 9 in 2020Q2: bankruptcies_lag3 unknown"),
        (pd.DataFrame({"sector": [1], "quarter": ["22Q3"]}), "'quarter' must be a string like '2026Q4'"),
        (pd.DataFrame({"sector": [1], "horizon": [5]}), "'horizon' must be an integer 1–4 (quarters after the "
                                                         "origin), got 5 (int)"),
        (pd.DataFrame({"sector": [1], "horizon": [0]}), "'horizon' must be an integer 1–4"),
        (pd.DataFrame({"sector": [1], "horizon": ["2"]}), "'horizon' must be an integer 1–4"),
        (pd.DataFrame({"sector": [1], "horizon": [1.5]}), "'horizon' must be an integer 1–4"),
        # 2022Q4 at horizon 3 would come from origin 2022Q1 (exists); 2023Q3 at horizon 3 from 2022Q4 (beyond)
        (pd.DataFrame({"sector": [1], "quarter": ["2023Q3"], "horizon": [3]}),
         "quarter 2023Q3 is outside the data at horizon 3: this model has real-time 3-quarter-ahead forecasts for "
         "2019Q4..2023Q1"),
        (pd.DataFrame({"sector": [1], "Sector": [1]}), "unknown field(s) ['Sector']"),
        (pd.DataFrame({"sector": [1], "log_lag0": [0.9]}), "unknown field(s) ['log_lag0']"),
        (pd.DataFrame(), "empty request"),
    ],
)
def test_bad_requests_raise_invalid_parameter(pyfunc, frame: pd.DataFrame, expected: str) -> None:
    model, _ = pyfunc
    with pytest.raises(MlflowException) as err:
        model.predict(frame)
    assert err.value.message.startswith(expected) and error_code(err.value) == INVALID_PARAMETER_VALUE


def test_a_scoring_bug_is_a_one_line_internal_error(pyfunc, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = pyfunc
    inner = model.unwrap_python_model()

    def broken(_keys: list) -> pd.DataFrame:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(inner, "_lookup", broken)
    with pytest.raises(MlflowException) as err:
        model.predict(pd.DataFrame({"sector": [1]}))
    assert err.value.message == "scoring failed: ZeroDivisionError: boom"
    assert error_code(err.value) == INTERNAL_ERROR


def test_explain_adds_why_for_the_newest_forecast_and_says_when_there_is_none(pyfunc) -> None:
    model, _ = pyfunc
    request = pd.DataFrame({"sector": [3, 3], "horizon": [1, 2]})
    plain = model.predict(request)
    assert list(plain.columns) == serving.OUTPUT_COLUMNS  # no `why` unless asked for
    out = model.predict(request, params={"explain": True})
    assert list(out.columns) == [*serving.OUTPUT_COLUMNS, "why"]
    # horizon 1 from the newest origin has the registered sentence; horizon 2 has none registered
    assert out["why"].tolist() == ["log mean +0.10: log_lag0 +0.08, sector 3", serving.NO_WHY]
    pd.testing.assert_frame_equal(out[serving.OUTPUT_COLUMNS], plain)


def test_explain_must_be_a_boolean(pyfunc) -> None:
    model, _ = pyfunc
    with pytest.raises(MlflowException) as err:
        model.predict(pd.DataFrame({"sector": [3]}), params={"explain": "yes"})
    assert error_code(err.value) == INVALID_PARAMETER_VALUE and "explain" in err.value.message
