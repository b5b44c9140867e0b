"""Fixtures for the serving tests: the champion of a test materialisation served from an environment of its own.

`model_env` builds a fresh virtual environment from nothing but the registered model's `requirements.txt`
(no `sector_forecast`, no Dagster); `served_champion` runs that environment's `mlflow models serve` on
loopback. The server runs in its own process group, started and killed by `deploy/services.background`, also
when start-up or a test fails, so no scoring server outlives the session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import requests

from sector_forecast.tracking import runs as tracking
from sector_forecast_tests.conftest import GraphEnv
from sector_forecast_tests.deploy.services import VENV_BIN, background, free_port, log_tail, wait_until

CHAMPION_URI = "models:/sector-vitality@champion"
STARTUP_TIMEOUT = 120.0
BUILD_TIMEOUT = 600.0  # pip resolves and installs ~90 distributions: one to two minutes on two cores
BUILD_TIME = "model_env_build"  # the test property (JUnit XML) that carries the measured build time


@dataclass
class ModelEnv:
    """A virtual environment holding only what the model's `requirements.txt` names."""

    venv: Path
    model_dir: Path
    requirements: list[str]
    build_seconds: float
    workdir: Path  # the working directory of its processes: not the checkout, so `sector_forecast` is not on it

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def environ(self, **extra: str) -> dict[str, str]:
        """This process's environment without the project's venv, PYTHONPATH or MLflow/Dagster settings."""
        drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
        env = {k: v for k, v in os.environ.items()
               if k not in drop and not k.startswith(("DAGSTER_", "SECTOR_FORECAST_", "MLFLOW_"))}
        path = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != VENV_BIN]
        # MLflow starts `uvicorn` from PATH: the model's environment must come first.
        return {**env, "PATH": os.pathsep.join([str(self.bin), *path]), "PYTHONUNBUFFERED": "1", **extra}

    def run(self, *args: str) -> str:
        """Run one of this environment's programs (e.g. `python`) and return its stdout; fail with its stderr."""
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], cwd=self.workdir, env=self.environ(),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


@dataclass
class ScoringServer:
    url: str
    model_uri: str
    env: GraphEnv
    model_env: ModelEnv
    log: Path

    def invoke(self, payload: object) -> requests.Response:
        return requests.post(f"{self.url}/invocations", json=payload, timeout=30)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the model environment's build time, which a test records (xdist workers' own prints are lost)."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == BUILD_TIME and report.when == "call":
                terminalreporter.write_line(f"[serving] model environment from its requirements.txt: {value}")


def _answers_ping(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def build_model_env(model_dir: Path, root: Path) -> ModelEnv:
    """`python -m venv` + `pip install -r <model>/requirements.txt`, timed; nothing of this project installed."""
    workdir = root / "work"
    workdir.mkdir(parents=True)
    requirements = model_dir / "requirements.txt"
    # From inside our venv, `venv` builds on the base interpreter (the Python of the model's python_env.yaml)
    # and, by default, without this venv's or the system's site-packages.
    model_env = ModelEnv(root / "venv", model_dir, requirements.read_text().split(), 0.0, workdir)
    log = root / "pip.log"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(model_env.venv)], check=True, cwd=workdir,
                   env=model_env.environ(), timeout=120)
    with log.open("wb") as out:
        done = subprocess.run([str(model_env.bin / "python"), "-m", "pip", "install", "-r", str(requirements)],
                              cwd=workdir, env=model_env.environ(), stdout=out, stderr=subprocess.STDOUT,
                              timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, f"pip install -r {requirements} failed:\n{log_tail(log)}"
    model_env.build_seconds = time.monotonic() - start
    print(f"model environment built from {requirements} in {model_env.build_seconds:.0f} s")
    return model_env


@pytest.fixture(scope="session")
def model_env(materialised_graph: GraphEnv, tmp_path_factory: pytest.TempPathFactory) -> ModelEnv:
    """The registered champion's own environment, built once per session."""
    root = tmp_path_factory.mktemp("model_env")
    tracking.client_for(materialised_graph.mlflow_uri)
    model_dir = Path(mlflow.artifacts.download_artifacts(CHAMPION_URI, dst_path=str(root / "model")))
    return build_model_env(model_dir, root)


@pytest.fixture(scope="session")
def served_champion(
    materialised_graph: GraphEnv, model_env: ModelEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScoringServer]:
    """`<model env>/bin/mlflow models serve -m models:/sector-vitality@champion --env-manager local` on loopback.

    `--env-manager local` here means "the environment this `mlflow` runs in", which is the model's own.
    """
    port = free_port()
    env = model_env.environ(MLFLOW_TRACKING_URI=materialised_graph.mlflow_uri,
                            MLFLOW_REGISTRY_URI=materialised_graph.mlflow_uri)
    log = tmp_path_factory.mktemp("serve") / "mlflow_serve.log"
    cmd = [str(model_env.bin / "mlflow"), "models", "serve", "-m", CHAMPION_URI, "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port)]
    # Its working directory is not the checkout: uvicorn puts its app directory (the cwd) on sys.path.
    with background(cmd, log, env, cwd=model_env.workdir, stop_signal=signal.SIGKILL) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers_ping(url), "mlflow models serve", STARTUP_TIMEOUT, proc, log)
        yield ScoringServer(url=url, model_uri=CHAMPION_URI, env=materialised_graph, model_env=model_env, log=log)
