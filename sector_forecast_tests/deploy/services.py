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


def graphql_over_http(url: str) -> Callable[[str, dict], dict]:
    """POST GraphQL to a webserver (`http://host:port/graphql`); GraphQL-level errors fail the test."""

    def execute(document: str, variables: dict) -> dict:
        reply = requests.post(url, json={"query": document, "variables": variables}, timeout=60)
        reply.raise_for_status()
        body = reply.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    return execute


# ------------------------------------------------------------------------------------ process trees (Linux)


@dataclass(frozen=True)
class ProcessInfo:
    """One process as /proc shows it; `started` (clock ticks after boot) tells it from a later reuse of its pid."""

    pid: int
    ppid: int
    pgid: int
    state: str
    started: int
    cmdline: str

    def exists(self) -> bool:
        """Still there, zombie or not: a zombie is a process its parent has not collected yet."""
        now = read_process(self.pid)
        return now is not None and now.started == self.started


def read_process(pid: int) -> ProcessInfo | None:
    """/proc/<pid>, or None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name in parentheses may contain spaces
    return ProcessInfo(pid, int(fields[1]), int(fields[2]), fields[0], int(fields[19]), cmdline.strip())


def descendants(root: int) -> dict[int, ProcessInfo]:
    """Every process below `root` (children, their children, ...), whatever session or group they are in."""
    table = [p for p in (read_process(int(d.name)) for d in Path("/proc").iterdir() if d.name.isdigit()) if p]
    children: dict[int, list[ProcessInfo]] = {}
    for proc in table:
        children.setdefault(proc.ppid, []).append(proc)
    found: dict[int, ProcessInfo] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.pid not in found:
                found[child.pid] = child
                todo.append(child.pid)
    return found


@contextmanager
def killing_tree(root: subprocess.Popen) -> Iterator[dict[int, ProcessInfo]]:
    """Yield a dict to record `root`'s process tree in; on exit SIGKILL every process group of it that is left.

    For a process that starts children in a session of their own (`sector-forecast ui`), which `background`
    cannot reach through `root`'s group. The tree is looked up again on exit while `root` still lives; groups
    recorded earlier are killed even after `root` is gone. Our own group is never signalled.
    """
    tree: dict[int, ProcessInfo] = {}
    try:
        yield tree
    finally:
        if root.poll() is None:
            tree.update(descendants(root.pid))
        for pgid in {p.pgid for p in tree.values()} - {os.getpgrp()}:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on `port` (connections in TIME_WAIT do not count: a new server could bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
