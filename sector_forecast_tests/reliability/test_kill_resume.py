"""A run killed while it registers and forecasts loses nothing: the suite's cheap `benchmarks/crash.py`.

A private copy of `materialised_graph` (the uninterrupted run) is laid out as a `$DAGSTER_HOME` that the CLI
uses; `sector-forecast run` of the evaluation stage is SIGKILLed after its first materialisation (the
leaderboard is written, the promotion gate and the forecasts are not), then evaluation and monitoring are
run again. Everything the benchmark checks after a kill is checked here.

On SQLite only: the copy is of the session's graph, materialised on SQLite; a PostgreSQL variant would run the
whole pipeline again on PostgreSQL (the SQLite one took ten minutes on the loaded test machine), while what
the re-run must restore (store files, the MLflow registry, the prediction log) lives outside the instance.
That a killed run is marked failed on PostgreSQL is `test_kill_and_concurrency.py`'s PostgreSQL case.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from scripts.processes import VENV_BIN, wait_until
from sector_forecast.defs.pipeline import PARTIAL_WRITE, remove_partial_writes
from sector_forecast_tests.conftest import GraphEnv
from sector_forecast_tests.reliability.conftest import cli_home

STAGE = "evaluation_job"
MODEL = "sector-vitality"


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "sector-forecast"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.timeout(900)
def test_a_run_killed_in_the_evaluation_stage_resumes_to_the_same_evidence(
    materialised_graph: GraphEnv, tmp_path: Path
) -> None:
    home, env, mlflow_uri = cli_home(materialised_graph, tmp_path / "copy")
    before = _cli(env, tmp_path, "evaluate", "--json")
    assert before.returncode == 0, before.stderr
    client = MlflowClient(tracking_uri=mlflow_uri)
    versions = len(client.search_model_versions(f"name = '{MODEL}'"))

    log = tmp_path / "killed.log"
    with log.open("wb") as out:
        cli = subprocess.Popen([str(VENV_BIN / "sector-forecast"), "run", "--stage", STAGE], cwd=tmp_path, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            def materialising() -> bool:
                runs = instance.get_runs(dg.RunsFilter(job_name=STAGE, statuses=[dg.DagsterRunStatus.STARTED]))
                return bool(runs) and bool(instance.all_logs(runs[0].run_id,
                                                             of_type=dg.DagsterEventType.ASSET_MATERIALIZATION))

            wait_until(materialising, "the stage's first materialisation", 600, cli, log)
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()

    rerun = _cli(env, tmp_path, "run", "--stage", STAGE, "--stage", "monitoring_job")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert f"({STAGE}) interrupted: process {cli.pid} " in rerun.stdout, rerun.stdout[-3000:]
    after = _cli(env, tmp_path, "evaluate", "--json")
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert not [p for p in (home / "storage").rglob(".*") if PARTIAL_WRITE.match(p.name)]
    prediction_log = pd.read_parquet(home / "storage" / "monitoring" / "prediction_log.parquet")
    assert not prediction_log.duplicated(["origin", "model_version", "horizon", "sector"]).any()
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == versions  # nothing registered twice
    assert list(client.get_registered_model(MODEL).aliases) == ["champion"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))


def test_partial_writes_of_a_killed_process_are_removed_and_nothing_else(tmp_path: Path) -> None:
    # What `atomic_write` leaves when killed between writing its temporary and the rename (mkstemp's names).
    partial = [tmp_path / "forecasts" / ".value.parquet.k2j4x9q1", tmp_path / "_parts" / ".value.a.1f2e.json.zz_0a9b1"]
    kept = [tmp_path / "forecasts" / "value.parquet", tmp_path / "monitoring" / "prediction_log.lock",
            tmp_path / "monitoring" / ".value.parquet.short"]
    for path in partial + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    with dg.DagsterInstance.ephemeral() as instance:  # no run in progress
        removed = remove_partial_writes(instance, tmp_path)
    assert sorted(removed) == sorted(partial)
    assert [p for p in partial + kept if p.exists()] == kept
