"""Fixtures for the serving tests: `mlflow models serve` on loopback for the champion of a test materialisation.

The server runs in its own process group (`start_new_session=True`) and the whole group is killed in a
`finally`, also when start-up or a test fails, so no scoring server outlives the session.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sector_forecast_tests.conftest import GraphEnv

STARTUP_TIMEOUT = 120.0


@dataclass
class ScoringServer:
    url: str
    model_uri: str
    env: GraphEnv

    def invoke(self, payload: object) -> requests.Response:
        return requests.post(f"{self.url}/invocations", json=payload, timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served_champion(materialised_graph: GraphEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScoringServer]:
    """`mlflow models serve -m models:/sector-vitality@champion --env-manager local` on 127.0.0.1."""
    port = free_port()
    model_uri = "models:/sector-vitality@champion"
    bin_dir = str(Path(sys.executable).parent)  # mlflow starts `uvicorn` from PATH
    # Both URIs explicitly: `mlflow.set_*_uri` in this process also exports them to the environment.
    env = {**os.environ, "MLFLOW_TRACKING_URI": materialised_graph.mlflow_uri,
           "MLFLOW_REGISTRY_URI": materialised_graph.mlflow_uri,
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    log_path = tmp_path_factory.mktemp("serve") / "mlflow_serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"mlflow models serve exited ({proc.returncode}): "
                                       f"{log_path.read_text(errors='replace')[-2000:]}")
                try:
                    if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow models serve not ready after {STARTUP_TIMEOUT:.0f}s")
                time.sleep(0.5)
            yield ScoringServer(url=url, model_uri=model_uri, env=materialised_graph)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
