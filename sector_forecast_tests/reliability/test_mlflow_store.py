"""A new MLflow store is created once, and one content registered once, however many processes race (issue 20).

Two `sector-forecast run`s on a new instance both created MLflow's tables and one failed ("table ... already
exists", a half-migrated schema). Here three processes import MLflow first and then open the same new SQLite
store together, released by one file appearing; each then uses it as a fit does.

One content is registered once: on a SQLite store two processes take `registry_lock` in turn; hosts on one
tracking server share no lock, so the later of two versions of one content is deleted (`keep_first`), tested
here on a SQLite store in the orders two hosts can interleave (a real `mlflow server` answers the same
queries from the same SQL store; starting one cost a minute on the loaded test machine).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

MODEL = "sector-vitality"
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
        runs.register_champion(client, "sector-vitality", f"runs:/{run}/model", run, tags={},
                               fingerprint="same-forecasts")
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


def _store(tmp_path: Path) -> tuple[MlflowClient, list[str]]:
    """A new SQLite-backed store with two finished runs to register from (one per host)."""
    from sector_forecast.tracking import runs

    client = runs.client_for(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    exp = runs.experiment_id(client, MODEL, None)
    return client, [runs.log_run(client, exp, run_name=f"gate {host}", params={}, metrics={}, tags={})
                    for host in ("a", "b")]


def _versions(client: MlflowClient) -> dict[str, str]:
    from sector_forecast.tracking.runs import FINGERPRINT_TAG

    # A version number is an int from a SQLite store, a string from a tracking server: compared as strings.
    return {str(v.version): v.tags[FINGERPRINT_TAG] for v in client.search_model_versions(f"name = '{MODEL}'")}


def test_two_hosts_registering_the_same_forecasts_without_a_lock_end_with_one_version(tmp_path: Path) -> None:
    """Two hosts on one tracking server share no lock: both find no version of the content and both register."""
    from sector_forecast.tracking import runs

    client, (run_a, run_b) = _store(tmp_path)
    runs.register_champion(client, MODEL, f"runs:/{run_a}/model", run_a, tags={}, fingerprint="older")
    assert runs.same_champion(client, MODEL, "same") is None  # what both hosts see before they register
    first = runs.register_champion(client, MODEL, f"runs:/{run_a}/model", run_a, tags={}, fingerprint="same")
    second = runs.register_champion(client, MODEL, f"runs:/{run_b}/model", run_b, tags={}, fingerprint="same")
    assert (str(first.version), str(second.version), second.run_id) == ("2", "2", run_a)  # the later copy is not kept
    assert _versions(client) == {"1": "older", "2": "same"}
    assert str(client.get_model_version_by_alias(MODEL, runs.CHAMPION_ALIAS).version) == "2"


def test_copies_registered_before_either_host_settles_end_at_the_lowest_version(tmp_path: Path) -> None:
    """Both hosts' versions exist (the later one holding the alias) before either settles; then both settle."""
    from sector_forecast.tracking import runs

    client, (run_a, run_b) = _store(tmp_path)
    runs.register_champion(client, MODEL, f"runs:/{run_a}/model", run_a, tags={}, fingerprint="older")
    for run in (run_a, run_b):  # register_champion's first half on each host
        made = client.create_model_version(MODEL, f"runs:/{run}/model", run_id=run,
                                           tags={runs.FINGERPRINT_TAG: "same"})
    client.set_registered_model_alias(MODEL, runs.CHAMPION_ALIAS, made.version)
    kept = [str(runs.keep_first(client, MODEL, "same").version) for _host in ("b", "a")]  # the second finds it done
    assert kept == ["2", "2"]
    assert _versions(client) == {"1": "older", "2": "same"}
    assert client.get_model_version_by_alias(MODEL, runs.CHAMPION_ALIAS).run_id == run_a


def test_forecasts_served_again_return_to_their_first_version(tmp_path: Path) -> None:
    """Data revised back: the champion's content is one registered before, so no version is added for it."""
    from sector_forecast.tracking import runs

    client, (run_a, run_b) = _store(tmp_path)
    for run, content in ((run_a, "x"), (run_b, "y"), (run_b, "x")):
        version = runs.register_champion(client, MODEL, f"runs:/{run}/model", run, tags={}, fingerprint=content)
    assert (str(version.version), version.run_id) == ("1", run_a)
    assert _versions(client) == {"1": "x", "2": "y"}
    assert str(client.get_model_version_by_alias(MODEL, runs.CHAMPION_ALIAS).version) == "1"
