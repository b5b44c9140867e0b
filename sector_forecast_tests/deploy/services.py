"""Background services for the deployment and browser tests: free ports, process groups, readiness, GraphQL.

Shared by `deploy/conftest.py` and `e2e/conftest.py`. Every process is started in its own process group and
stopped by the context manager that started it (the group is signalled, then SIGKILLed), also when the
test fails, so no server outlives its test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; a tiny race with other processes remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment without the caller's Dagster, StatBank and MLflow settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SECTOR_FORECAST_", "MLFLOW_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


@contextmanager
def background(
    cmd: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[subprocess.Popen]:
    """Run `cmd` in its own process group with output to `log`; on exit signal the group, then SIGKILL it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop_group(proc, stop_signal)


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
    """Ask the whole process group to stop, then SIGKILL whatever is left (a stuck leader or its children)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout: float,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    """Poll `check` until it is true; fail naming `what`, with the process's log, on timeout or early exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"{what}: process exited with {proc.returncode}\n{log_tail(log) if log else ''}"
            )
        time.sleep(0.5)
    raise AssertionError(f"{what}: not ready after {timeout:.0f}s\n{log_tail(log) if log else ''}")


@dataclass
class Service:
    """A started process: its log, and a way to wait for it that reports the log when it dies."""

    name: str
    proc: subprocess.Popen
    log: Path

    def wait_for(self, check: Callable[[], bool], timeout: float) -> None:
        wait_until(check, self.name, timeout, self.proc, self.log)


# ------------------------------------------------------------------------------------- sensors and schedules

_INSTIGATORS = """
query Instigators($sel: RepositorySelector!) {
  sensorsOrError(repositorySelector: $sel) {
    __typename ... on Sensors { results { name sensorState { id selectorId status } } }
  }
  schedulesOrError(repositorySelector: $sel) {
    __typename ... on Schedules { results { name scheduleState { id selectorId status } } }
  }
}"""
REPOSITORY = {"repositoryLocationName": "sector_forecast", "repositoryName": "__repository__"}


def stop_instigators(execute: Callable[[str, dict], dict]) -> list[str]:
    """Stop every running sensor and schedule through GraphQL, as the UI's toggles do; return their names.

    The tests decide which runs happen: left on, the publication and automation sensors would launch
    backfills of their own in the middle of a test. The stopped state is written to the instance's schedule
    storage, which is how a test can see where that storage lives.
    """
    data = execute(_INSTIGATORS, {"sel": REPOSITORY})
    sensors = data["sensorsOrError"].get("results")
    schedules = data["schedulesOrError"].get("results")
    assert sensors is not None and schedules is not None, data
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


def graphql_over_http(url: str) -> Callable[[str, dict], dict]:
    """POST GraphQL to a webserver (`http://host:port/graphql`); GraphQL-level errors fail the test."""

    def execute(document: str, variables: dict) -> dict:
        reply = requests.post(url, json={"query": document, "variables": variables}, timeout=60)
        reply.raise_for_status()
        body = reply.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    return execute
