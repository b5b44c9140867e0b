"""Run the local StatBank server in a child process for tests (any test folder can reuse this).

    with running_statbank_server(snapshot_dir, tmp_path, faults=True) as server:
        client = StatBankClient(base_url=server.url)
        server.publish("KONK25")
        server.fault("500", count=2)      # only with faults=True

The server is started as a user starts it (`sector-forecast statbank serve`), runs in its own process group
and is always killed on exit, also when the test fails. With `faults=True`, `.url` is a fault proxy in front
of it (`statbank_faults.py`) and `.fault(...)` queues injected failures there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from sector_forecast_tests.statbank_faults import FaultProxy

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "data" / "statbank"


@dataclass
class ServerHandle:
    """A running local server: `.url` is the API base (`http://127.0.0.1:PORT/v1`)."""

    url: str
    process: subprocess.Popen
    proxy: FaultProxy | None = None

    @property
    def admin_url(self) -> str:
        return self.url.removesuffix("/v1") + "/admin"

    def _admin(self, op: str, payload: dict) -> dict:
        reply = requests.post(f"{self.admin_url}/{op}", json=payload, timeout=30)
        if reply.status_code != 200:
            raise RuntimeError(f"admin {op} failed: HTTP {reply.status_code} {reply.text}")
        return reply.json()

    def publish(self, table: str, period: str | None = None, values: list[dict] | None = None) -> dict:
        return self._admin("publish", {"table": table, "period": period, "values": values})

    def revise(self, table: str, cell: dict[str, str], value: str | float | int) -> dict:
        return self._admin("revise", {"table": table, "cell": cell, "value": value})

    def close(self, table: str, successor: str | None = None) -> dict:
        return self._admin("close", {"table": table, "successor": successor})

    def fault(self, mode: str, count: int = 1, seconds: float = 3.0) -> list[str]:
        """Make the next `count` API requests fail as `mode` (see `statbank_faults.FAULT_MODES`)."""
        if self.proxy is None:
            raise RuntimeError("this server was started without faults=True: no fault proxy in front of it")
        return self.proxy.add(mode, count, seconds)

    def limit(self, cells: int) -> dict:
        return self._admin("limit", {"cells": cells})

    def reset(self) -> dict:
        return self._admin("reset", {})


@contextmanager
def running_statbank_server(
    snapshot_dir: Path = SNAPSHOT, tmp_path: Path | None = None, startup_timeout: float = 30.0, faults: bool = False
) -> Iterator[ServerHandle]:
    """Start `sector-forecast statbank serve --port 0`, yield a handle, kill its process group on exit."""
    log_dir = Path(tmp_path) if tmp_path else Path.cwd()
    stderr = (log_dir / "statbank_server.stderr").open("wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        str(Path(sys.executable).with_name("sector-forecast")),
        "statbank",
        "serve",
        "--snapshot",
        str(snapshot_dir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=stderr, cwd=REPO, env=env, start_new_session=True
    )
    proxy = None
    try:
        deadline = time.monotonic() + startup_timeout
        line = b""
        while time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else b""
            if line.startswith(b"listening on ") or not line:
                break
        if not line.startswith(b"listening on "):
            stderr.flush()
            log = (log_dir / "statbank_server.stderr").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"local StatBank server did not start (exit {proc.poll()}): {log}")
        url = line.decode().split("listening on ", 1)[1].strip()
        proxy = FaultProxy(url) if faults else None
        yield ServerHandle(url=proxy.url if proxy else url, process=proc, proxy=proxy)
    finally:
        if proxy is not None:
            proxy.close()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
        stderr.close()
