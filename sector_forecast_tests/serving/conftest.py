"""Fixtures for the serving tests: `mlflow models serve` on loopback for the champion of a test materialisation.

The server runs in its own process group, started and killed by `deploy/services.background`, also when
start-up or a test fails, so no scoring server outlives the session.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from sector_forecast_tests.conftest import GraphEnv
from sector_forecast_tests.deploy.services import VENV_BIN, background, free_port, wait_until

STARTUP_TIMEOUT = 120.0


@dataclass
class ScoringServer:
    url: str
    model_uri: str
    env: GraphEnv

    def invoke(self, payload: object) -> requests.Response:
        return requests.post(f"{self.url}/invocations", json=payload, timeout=30)


def _answers_ping(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="module")
def served_champion(materialised_graph: GraphEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScoringServer]:
    """`mlflow models serve -m models:/sector-vitality@champion --env-manager local` on 127.0.0.1."""
    port = free_port()
    model_uri = "models:/sector-vitality@champion"
    # Both URIs explicitly: `mlflow.set_*_uri` in this process also exports them to the environment.
    env = {**os.environ, "MLFLOW_TRACKING_URI": materialised_graph.mlflow_uri,
           "MLFLOW_REGISTRY_URI": materialised_graph.mlflow_uri,
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # mlflow starts `uvicorn` from PATH
    log = tmp_path_factory.mktemp("serve") / "mlflow_serve.log"
    cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port)]
    with background(cmd, log, env, stop_signal=signal.SIGKILL) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers_ping(url), "mlflow models serve", STARTUP_TIMEOUT, proc, log)
        yield ScoringServer(url=url, model_uri=model_uri, env=materialised_graph)
