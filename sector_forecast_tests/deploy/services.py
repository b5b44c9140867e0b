"""What only the deployment and browser tests need besides `scripts/processes.py`: a clean environment,
started services, and the instance's sensors and schedules stopped.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scripts.processes import REPO, VENV_BIN, wait_until


def isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment without the caller's Dagster, StatBank and MLflow settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SECTOR_FORECAST_", "MLFLOW_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class Service:
    """A started process: its log, and a way to wait for it that reports the log when it dies."""

    name: str
    proc: subprocess.Popen
    log: Path

    def wait_for(self, check: Callable[[], bool], timeout: float) -> None:
        wait_until(check, self.name, timeout, self.proc, self.log)


# ------------------------------------------------------------------------------------- sensors and schedules


def graphql_via_cli(env: dict[str, str], workdir: Path) -> Callable[[str, dict], dict]:
    """GraphQL against the instance in `$DAGSTER_HOME` without a webserver (`dagster-graphql`): to stop the
    sensors and schedules before a daemon starts, whose first tick would otherwise launch runs of its own."""

    def execute(document: str, variables: dict) -> dict:
        out = workdir / "graphql.json"
        reply = subprocess.run(
            [str(VENV_BIN / "dagster-graphql"), "-w", str(REPO / "workspace.yaml"), "-t", document,
             "-v", json.dumps(variables), "-o", str(out)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert reply.returncode == 0, reply.stderr[-2000:]
        body = json.loads(out.read_text())
        assert not body.get("errors"), body["errors"]
        return body["data"]

    return execute


_INSTIGATORS = """
query Instigators($sel: RepositorySelector!) {
  sensorsOrError(repositorySelector: $sel) {
    __typename ... on Sensors { results { name sensorState { id selectorId status } } }
    ... on PythonError { message }
  }
  schedulesOrError(repositorySelector: $sel) {
    __typename ... on Schedules { results { name scheduleState { id selectorId status } } }
    ... on PythonError { message }
  }
}"""
REPOSITORY = {"repositoryLocationName": "sector_forecast", "repositoryName": "__repository__"}


def stop_instigators(execute: Callable[[str, dict], dict]) -> list[str]:
    """Stop every running sensor and schedule through GraphQL, as the UI's toggles do; return their names.

    The tests decide which runs happen: left on, the publication and automation sensors would launch
    backfills of their own in the middle of a test. The stopped state is written to the instance's schedule
    storage, which is how a test can see where that storage lives.
    """
    # Under load the webserver can answer with a PythonError while its code server is still (re)connecting:
    # ask again for a minute, then fail with the message.
    deadline = time.monotonic() + 60
    while True:
        data = execute(_INSTIGATORS, {"sel": REPOSITORY})
        if all("results" in data[k] for k in ("sensorsOrError", "schedulesOrError")):
            break
        assert time.monotonic() < deadline, f"sensors and schedules not listed after 60 s: {data}"
        time.sleep(1)
    sensors, schedules = data["sensorsOrError"]["results"], data["schedulesOrError"]["results"]
    parts, names = [], []
    for i, s in enumerate(sensors):
        if s["sensorState"]["status"] == "RUNNING":
            state = s["sensorState"]
            parts.append(
                f's{i}: stopSensor(jobOriginId: "{state["id"]}", jobSelectorId: "{state["selectorId"]}") '
                "{ __typename ... on PythonError { message } }"
            )
            names.append(s["name"])
    for i, s in enumerate(schedules):
        if s["scheduleState"]["status"] == "RUNNING":
            state = s["scheduleState"]
            parts.append(
                f'c{i}: stopRunningSchedule(scheduleOriginId: "{state["id"]}", '
                f'scheduleSelectorId: "{state["selectorId"]}") '
                "{ __typename ... on PythonError { message } }"
            )
            names.append(s["name"])
    if parts:
        result = execute("mutation StopAll { " + " ".join(parts) + " }", {})
        errors = {k: v for k, v in result.items() if v["__typename"] == "PythonError"}
        assert not errors, errors
    return names


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on `port` (connections in TIME_WAIT do not count: a new server could bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
