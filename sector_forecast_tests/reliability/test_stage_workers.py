"""`sector-forecast run`'s worker processes (`defs/stage_pool.py`): how many, in which order, none outliving its run,
and a killed run's fit runs failed by the next use, as a killed in-process run is (`test_kill_and_concurrency.py`).

That the fits they store equal a fit run alone or in a range in one process is `pipeline/test_pipeline_one_model.py`
(the session's graph is a cold run, so its fits come from the workers).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from scripts.processes import VENV_BIN, wait_until
from sector_forecast.defs.assets.models import FIT_ASSET_NAMES
from sector_forecast.defs.run_process import PROCESS_TAG, process_token
from sector_forecast.defs.stage_pool import WORKERS_ENV, costliest_first, stage_workers
from sector_forecast_tests.conftest import GraphEnv
from sector_forecast_tests.reliability.conftest import cli_home

# A parent whose one pool worker is busy (as with a fit) and prints its pid; the parent waits to be killed.
# Busy matters: an idle worker leaves anyway when its parent's end of the task queue closes.
PARENT = """
import time
from sector_forecast.defs.stage_pool import worker_pool
pool = worker_pool(1)
pool.submit(exec, "import os, time; print(os.getpid(), flush=True); time.sleep(600)")
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_the_process_that_started_it() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert process_token(worker) is not None  # the control: the worker lives while its parent does
        time.sleep(1)
        assert process_token(worker) is not None
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while process_token(worker) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process_token(worker) is None, f"worker {worker} outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.wait(timeout=30)


def test_the_tuned_regressions_start_first() -> None:
    # glm, glm_seasonal and xgboost are "regression" (tuned by cross-validation: ~30 s each in a cold run),
    # theta "series" (~7 s), naive, seasonal_naive and mean_4q "rule" (~5 s; docs/benchmarks.md).
    assert costliest_first(list(FIT_ASSET_NAMES)) == [
        "fit_glm", "fit_glm_seasonal", "fit_xgboost", "fit_theta", "fit_mean_4q", "fit_naive", "fit_seasonal_naive"]


def test_the_number_of_workers_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert stage_workers() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(WORKERS_ENV, bad)
        with pytest.raises(ValueError, match=WORKERS_ENV):
            stage_workers()
    monkeypatch.delenv(WORKERS_ENV)
    assert stage_workers() >= 1


@pytest.mark.timeout(600)
def test_a_killed_run_leaves_no_fit_going_and_its_fit_runs_are_failed_next_time(
    materialised_graph: GraphEnv, tmp_path: Path
) -> None:
    home, env, _ = cli_home(materialised_graph, tmp_path / "copy", **{WORKERS_ENV: "2"})
    log = tmp_path / "killed.log"
    with log.open("wb") as out:
        cli = subprocess.Popen([str(VENV_BIN / "sector-forecast"), "run", "--stage", "fits_job"], cwd=tmp_path,
                               env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            def two_fits_running() -> list[dg.DagsterRun]:
                runs = instance.get_runs(dg.RunsFilter(job_name="fits_job", statuses=[dg.DagsterRunStatus.STARTED]))
                return runs if len(runs) == 2 and all(PROCESS_TAG in r.tags for r in runs) else []

            wait_until(lambda: bool(two_fits_running()), "two fit runs in their workers", 300, cli, log)
            running = two_fits_running()
    finally:
        cli.send_signal(signal.SIGKILL)
        cli.wait()
    workers = {int(run.tags[PROCESS_TAG].split(":")[0]) for run in running}
    assert cli.pid not in workers and len(workers) == 2  # each run names the worker executing it
    deadline = time.monotonic() + 30
    while any(process_token(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if process_token(pid)], "a fit worker outlived the killed run"

    nxt = subprocess.run([str(VENV_BIN / "sector-forecast"), "run", "--stage", "demo14_job"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert nxt.returncode == 0, nxt.stdout[-3000:] + nxt.stderr[-3000:]
    for run in running:
        pid = run.tags[PROCESS_TAG].split(":")[0]
        assert f"run {run.run_id[:8]} (fits_job) interrupted: process {pid} " in nxt.stdout, nxt.stdout[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert {instance.get_run_by_id(r.run_id).status for r in running} == {dg.DagsterRunStatus.FAILURE}
