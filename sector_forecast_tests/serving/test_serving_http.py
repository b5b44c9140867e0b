"""The registered champion over HTTP (`mlflow models serve`): forecasts equal the pipeline's, bad requests get a 400
that names the problem and never a stack trace.
"""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sector_forecast.domain.periods import quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES
from sector_forecast.storage.values import read_stored
from sector_forecast.tracking import pyfunc as serving
from sector_forecast_tests.serving.conftest import ScoringServer

COLUMNS = serving.OUTPUT_COLUMNS


def served(server: ScoringServer, records: list[dict]) -> pd.DataFrame:
    reply = server.invoke({"dataframe_records": records})
    assert reply.status_code == 200, reply.text
    return pd.DataFrame(reply.json()["predictions"])


def test_served_forecasts_equal_the_forecasts_asset(served_champion: ScoringServer) -> None:
    env = served_champion.env
    stored = read_stored(env.storage, "forecasts")
    forecasts = stored[stored["horizon"] == 1].sort_values("sector", ignore_index=True)  # the next quarter
    client = MlflowClient(tracking_uri=env.mlflow_uri, registry_uri=env.mlflow_uri)
    champion = client.get_model_version_by_alias("sector-vitality", "champion")
    assert set(forecasts["model_version"]) == {str(champion.version)}  # same quarter, same model version
    quarter = forecasts["quarter"].iloc[0]
    # A sector code alone means "the next quarter"; naming the quarter gives the same answer.
    by_default = served(served_champion, [{"sector": s} for s in SECTOR_CODES])
    by_quarter = served(served_champion, [{"sector": s, "quarter": quarter} for s in SECTOR_CODES])
    pd.testing.assert_frame_equal(by_default, by_quarter)
    pd.testing.assert_frame_equal(by_default[COLUMNS], forecasts[COLUMNS], check_dtype=False)


def test_a_served_past_quarter_is_its_graded_real_time_forecast(served_champion: ScoringServer) -> None:
    """A past quarter gets the champion's forecast made at the origin before it — the one the backtest graded —
    with the interval calibrated at that origin: the leaderboard's row, never an in-sample fit."""
    env = served_champion.env
    champion = read_stored(env.storage, "champion_model")
    board = read_stored(env.storage, "backtest_leaderboard")["predictions"]
    answer = served(served_champion, [{"sector": int(s), "quarter": "2024Q3"} for s in SECTOR_CODES])
    graded = board[(board["model"] == champion["champion"]) & (board["origin"] == "2024Q2")].sort_values("sector")
    assert answer["quarter"].eq(quarter_offset("2024Q2", 1)).all() and answer["model_origin"].eq("2024Q2").all()
    for column in ("prediction", "lower80", "upper80", "lower95", "upper95"):
        assert answer[column].tolist() == pytest.approx(graded[column].tolist(), nan_ok=True)
    assert set(answer["model"]) == {champion["champion"]}
    assert set(answer["data_source"]) == {env.defs.resources["statbank"].provenance_tags()["data.source"]}
    assert (answer["lower95"] <= answer["lower80"]).all() and (answer["lower80"] <= answer["prediction"]).all()
    assert (answer["prediction"] <= answer["upper80"]).all() and (answer["upper80"] <= answer["upper95"]).all()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"dataframe_records": [{"sector": 11}]}, "unknown sector code(s) [11]"),
        ({"dataframe_records": [{"sector": 0}, {"sector": 3}]}, "unknown sector code(s) [0]"),
        ({"dataframe_records": [{"sector": 1, "quarter": "2030Q1"}]}, "quarter 2030Q1 is outside the data"),
        ({"dataframe_records": [{"quarter": "2026Q4"}]}, "missing required field 'sector'"),
        ({"dataframe_records": [{"sector": None}]}, "'sector' is missing in row(s) [0]"),
        ({"dataframe_records": [{"sector": "abc"}]}, "'sector' must be an integer 1–10, got 'abc' (str)"),
        ({"dataframe_records": [{"sector": 1.5}]}, "'sector' must be an integer 1–10"),
        ({"dataframe_records": [{"sector": True}]}, "'sector' must be an integer 1–10"),
        ({"dataframe_records": [{"sector": 1, "quarter": 5}]}, "'quarter' must be a string like '2026Q4', got 5"),
        ({"dataframe_records": [{"sector": 1, "quarter": "2026-Q4"}]}, "'quarter' must be a string like '2026Q4'"),
        ({"dataframe_records": [{"sector": 1, "quater": "2025Q1"}]}, "unknown field(s) ['quater']"),
        ({"dataframe_records": [{"sector": 1, "log_lag0": 0.9}]}, "unknown field(s) ['log_lag0']"),
        ({"dataframe_records": []}, "empty request"),
        ({"sectors": [1]}, "The input must be a JSON dictionary with exactly one of the input fields"),
    ],
)
def test_bad_requests_get_a_400_naming_the_problem(
    served_champion: ScoringServer, payload: dict, expected: str
) -> None:
    reply = served_champion.invoke(payload)
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert expected in body["message"], body["message"]
    assert "stack_trace" not in body and "Traceback" not in reply.text


def test_malformed_json_is_a_400(served_champion: ScoringServer) -> None:
    import requests

    reply = requests.post(f"{served_champion.url}/invocations", data=b"{not json",
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert reply.status_code == 400 and "valid JSON" in reply.json()["message"]
    assert "Traceback" not in reply.text
