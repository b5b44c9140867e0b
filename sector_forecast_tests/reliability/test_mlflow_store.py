"""A new MLflow store is created once, however many processes open it at the same moment (issue 20).

Two `sector-forecast run`s on a new instance both created MLflow's tables and one failed ("table ... already
exists", a half-migrated schema). Here three processes import MLflow first and then open the same new SQLite
store together, released by one file appearing; each then uses it as a fit does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCRIPT = """
import sys, time
from pathlib import Path
import mlflow  # imported before the start signal, so the processes open the store together
from sector_forecast.tracking.runs import client_for, experiment_id

uri, go, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.01)
client = client_for(uri)
exp = experiment_id(client, "sector-vitality", None)
print(exp, len(client.search_registered_models()))
"""
PROCESSES = 3


def test_processes_opening_a_new_store_together_all_succeed(tmp_path: Path) -> None:
    uri, go = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}", tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, uri, str(go), str(mark)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for mark in ready]
    while not all(mark.exists() for mark in ready):  # every process has MLflow imported and waits for `go`
        assert all(proc.poll() is None for proc in procs), [proc.communicate() for proc in procs]
        time.sleep(0.05)
    go.touch()
    results = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * PROCESSES, [err[-2000:] for _, err in results]
    # One experiment, the same for all (created by one, found by the others); an empty registry.
    assert len({out for out, _ in results}) == 1, results
    assert results[0][0].split()[1] == "0"


REGISTER = """
import sys, time
from pathlib import Path
from sector_forecast.tracking import runs

uri, go, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
client = runs.client_for(uri)
exp = runs.experiment_id(client, "sector-vitality", None)
ready.touch()
while not go.exists():
    time.sleep(0.01)
with runs.registry_lock(uri):  # what champion_model holds around "already registered? else register"
    if runs.same_champion(client, "sector-vitality", "same-forecasts") is None:
        time.sleep(1.0)  # a champion's model takes seconds to log: the other process arrives meanwhile
        run = runs.log_run(client, exp, run_name="gate", params={}, metrics={}, tags={})
        runs.register_champion(client, "sector-vitality", f"runs:/{run}/model", run,
                               tags={"fit_fingerprint": "same-forecasts"})
"""


def test_two_processes_registering_the_same_forecasts_add_one_version(tmp_path: Path) -> None:
    """A CLI run beside `dagster dev`'s automation: both reach the gate with the same champion table."""
    from mlflow.tracking import MlflowClient

    uri, go = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}", tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", REGISTER, uri, str(go), str(mark)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for mark in ready]
    while not all(mark.exists() for mark in ready):
        assert all(proc.poll() is None for proc in procs), [proc.communicate() for proc in procs]
        time.sleep(0.05)
    go.touch()
    results = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err[-2000:] for _, err in results]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert len(client.search_model_versions("name = 'sector-vitality'")) == 1
