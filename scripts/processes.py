"""Background processes for the tests and the scripts: free ports, process groups, readiness, GraphQL over HTTP.

Not a test module: `scripts/screenshots.py`, the benchmarks and the deployment, browser, serving, reliability
and CLI tests start their servers with it (`sector_forecast_tests/deploy/services.py` adds what only tests
need). Every process is started in its own process group and stopped by the context
manager that started it (the group is signalled, then SIGKILLed), also on failure, so no server outlives
its caller.
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

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it; a tiny race with other processes remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    poll: float = 0.5,
) -> None:
    """Poll `check` every `poll` s until it is true; fail naming `what`, with the log, on timeout or early exit.

    A benchmark that reports the time to ready polls more often than a test that only waits for it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"{what}: process exited with {proc.returncode}\n{log_tail(log) if log else ''}"
            )
        time.sleep(poll)
    raise AssertionError(f"{what}: not ready after {timeout:.0f}s\n{log_tail(log) if log else ''}")


def graphql_over_http(url: str) -> Callable[[str, dict], dict]:
    """POST GraphQL to a webserver (`http://host:port/graphql`); GraphQL-level errors fail the caller."""

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
