"""The registered champion serves from a fresh environment built from nothing but its own `requirements.txt`.

`served_champion` (conftest) builds that environment and starts its `mlflow models serve` by running README's
serving block as written; the other HTTP tests (`test_serving_http.py`) run against the same server.
"""

from __future__ import annotations

import json
import re
import subprocess
from importlib.metadata import version

import pandas as pd
import pytest
import yaml

from sector_forecast.domain.periods import quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES
from sector_forecast.storage.values import read_stored
from sector_forecast.tracking import pyfunc as serving
from sector_forecast_tests.serving.conftest import BUILD_TIME, ModelEnv, ScoringServer, user_environ
from sector_forecast_tests.serving.readme_block import SERVING_DOC, bash_blocks, serving_block

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+-]+)$")


def test_the_model_env_holds_only_its_pinned_requirements(model_env: ModelEnv, record_property) -> None:
    pins = dict(PIN.match(line).groups() for line in model_env.requirements)  # every line is `name==version`
    assert {"mlflow", "numpy", "pandas", "pyarrow"} <= set(pins), pins
    assert not {"scikit-learn", "xgboost-cpu", "statsforecast"} & set(pins), pins  # a forecast table: no refits
    assert pins == {name: version(name) for name in pins}  # the versions the model was fitted and logged with
    installed = {line.split("==")[0].lower() for line in model_env.run("python", "-m", "pip", "freeze").split()}
    assert not {"sector-forecast", "sector_forecast", "dagster"} & installed, installed
    probe = ("import importlib.util as u, json, platform, sys; print(json.dumps({'python': platform.python_version(),"
             " 'isolated': sys.prefix != sys.base_prefix, 'found': [n for n in ('sector_forecast', 'dagster')"
             " if u.find_spec(n)]}))")
    seen = json.loads(model_env.run("python", "-c", probe))
    python_env = yaml.safe_load((model_env.model_dir / "python_env.yaml").read_text())
    assert seen == {"python": str(python_env["python"]), "isolated": True, "found": []}
    # Printed at the end of the run by conftest's `pytest_terminal_summary` (also from an xdist worker).
    record_property(BUILD_TIME, f"{len(installed)} distributions from {len(pins)} pinned requirements, "
                                f"downloaded and built in {model_env.build_seconds:.1f} s")


def test_served_from_its_own_env_equals_the_forecasts_asset(served_champion: ScoringServer) -> None:
    """Both request forms: a sector code alone, and a sector with the forecast quarter named."""
    stored = read_stored(served_champion.env.storage, "forecasts")
    forecasts = stored[stored["horizon"] == 1].sort_values("sector", ignore_index=True)  # the next quarter
    origin = json.loads((served_champion.model_env.model_dir / "artifacts" / "meta.json").read_text())["origin"]
    named = [{"sector": s, "quarter": quarter_offset(origin, 1)} for s in SECTOR_CODES]
    for records in ([{"sector": s} for s in SECTOR_CODES], named):
        reply = served_champion.invoke({"dataframe_records": records})
        assert reply.status_code == 200, reply.text
        answer = pd.DataFrame(reply.json()["predictions"])
        pd.testing.assert_frame_equal(answer[serving.OUTPUT_COLUMNS], forecasts[serving.OUTPUT_COLUMNS],
                                      check_dtype=False)


def test_every_horizon_served_from_its_own_env_is_the_backtests_forecast(served_champion: ScoringServer) -> None:
    """`horizon` 1–4, no quarter: the newest origin's forecasts h quarters ahead, as the backtest calibrated them."""
    board = read_stored(served_champion.env.storage, "backtest_leaderboard")["predictions_by_horizon"]
    meta = json.loads((served_champion.model_env.model_dir / "artifacts" / "meta.json").read_text())
    origin, model = meta["origin"], meta["model"]
    reply = served_champion.invoke({"dataframe_records": [{"sector": 4, "horizon": h} for h in (1, 2, 3, 4)]})
    assert reply.status_code == 200, reply.text
    answer = pd.DataFrame(reply.json()["predictions"])
    assert answer["quarter"].tolist() == [quarter_offset(origin, h) for h in (1, 2, 3, 4)]
    rows = board[(board["model"] == model) & (board["origin"] == origin) & (board["sector"] == 4)]
    expected = rows.sort_values("horizon")[["prediction", "lower80", "upper80", "lower95", "upper95"]]
    pd.testing.assert_frame_equal(answer[expected.columns], expected.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        ([{"sector": 42}], "unknown sector code(s) [42]: valid codes are 1–10"),
        ([{"sector": 2, "quarter": "2025-Q3"}], "'quarter' must be a string like '2026Q4', got '2025-Q3' (str)"),
        ([{"sector": 2, "quarter": "1999Q1"}], "quarter 1999Q1 is outside the data"),
        ([{"sector": 2, "region": "Hovedstaden"}], "unknown field(s) ['region']"),
        ([{"sector": 3, "log_lag0": "many"}], "unknown field(s) ['log_lag0']"),
        ([{"sector": 3, "horizon": 5}], "'horizon' must be an integer 1–4 (quarters after the origin), got 5 (int)"),
        ([{"sector": 3, "horizon": "2"}], "'horizon' must be an integer 1–4"),
        ([{"sector": 3, "quarter": "2040Q1", "horizon": 4}], "quarter 2040Q1 is outside the data at horizon 4"),
    ],
)
def test_bad_requests_name_the_problem_first(served_champion: ScoringServer, records: list, problem: str) -> None:
    """The message starts with the problem; MLflow's dump of the input frame, which it insists on, comes after."""
    reply = served_champion.invoke({"dataframe_records": records})
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert body["message"].startswith(problem), body["message"]
    assert "Traceback" not in reply.text and "stack_trace" not in body


def test_the_server_loaded_code_not_a_pickled_model(served_champion: ScoringServer) -> None:
    log = served_champion.log.read_text(errors="replace")
    assert "cloudpickle" not in log.lower(), log[-3000:]
    code = served_champion.model_env.model_dir / "code" / "sector_forecast"
    assert (code / "tracking" / "pyfunc.py").is_file() and not (code / "defs").exists()


def test_readmes_request_answers_as_documented(served_champion: ScoringServer) -> None:
    """README's curl line, run as written against the server README's lines started: the documented answer."""
    done = subprocess.run(["bash", "-c", served_champion.request], cwd=served_champion.model_env.workdir,
                          env=user_environ(served_champion.model_env), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = pd.DataFrame(json.loads(done.stdout)["predictions"])
    stored = read_stored(served_champion.env.storage, "forecasts")
    forecasts = stored[stored["horizon"] == 1].set_index("sector")
    # README asks for sector 3 (the next quarter: the `forecasts` asset's row) and sector 7 in 2025Q2.
    assert answer[["sector", "quarter"]].values.tolist() == [[3, forecasts.loc[3, "quarter"]], [7, "2025Q2"]]
    assert answer.loc[0, "prediction"] == pytest.approx(forecasts.loc[3, "prediction"], rel=1e-9)


def test_docs_serving_runs_the_same_commands_as_readme() -> None:
    """docs/serving.md shows README's tested commands, not a variant of its own."""
    readme = serving_block()
    doc_commands = [c for block in bash_blocks(SERVING_DOC.read_text()) for c in block]
    assert [*readme.setup, readme.serve] == [c for c in doc_commands if c in {*readme.setup, readme.serve}]
    assert {*readme.setup, readme.serve, readme.request} <= set(doc_commands)
