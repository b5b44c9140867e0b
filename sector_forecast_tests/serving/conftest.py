"""Fixtures for the serving tests: the champion of a test materialisation served from an environment of its own.

Both are README's serving block, run as written (`readme_block.py` reads it; only paths and port are swapped):
`model_env` downloads the champion and builds a fresh virtual environment from nothing but its
`requirements.txt` (no `sector_forecast`, no Dagster); `served_champion` runs README's `mlflow models serve`
line on loopback, from a shell whose PATH holds neither the project's venv nor the model's. The server runs in
its own process group, started and killed by `scripts/processes.background`, also when start-up or a test fails,
so no scoring server outlives the session."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from scripts.processes import VENV_BIN, background, free_port, log_tail, wait_until
from sector_forecast_tests.conftest import GraphEnv
from sector_forecast_tests.serving.readme_block import ServingBlock, serving_block

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
    request: str  # README's curl command, pointed at this server

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


def user_environ(model_env: ModelEnv) -> dict[str, str]:
    """The environment of a user's shell in a fresh clone: no project venv, no model env, no MLflow settings on it.

    Unlike `ModelEnv.environ`, nothing puts the model environment on PATH: README's block must do that itself.
    """
    path = [p for p in model_env.environ()["PATH"].split(os.pathsep) if Path(p) != model_env.bin]
    return {**model_env.environ(), "PATH": os.pathsep.join(path)}


def readme_commands(model_env: ModelEnv, mlflow_uri: str, port: int = 0) -> ServingBlock:
    """README's serving block with the test's store, directories and port in place of README's."""
    return serving_block().substituted(mlflow_uri, model_env.model_dir, model_env.venv, model_env.workdir, port)


def build_model_env(mlflow_uri: str, root: Path) -> ModelEnv:
    """README's set-up commands (download, `venv`, `pip install -r <model>/requirements.txt`), run as written, timed.

    `bash -e` runs them in one shell, as a user pastes them; a failing command fails the fixture with its output.
    """
    workdir = root / "work"
    workdir.mkdir(parents=True)
    model_env = ModelEnv(root / "venv", root / "model", [], 0.0, workdir)
    script = "\n".join(readme_commands(model_env, mlflow_uri).setup)
    log = root / "setup.log"
    start = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(["bash", "-e", "-c", script], cwd=workdir, env=user_environ(model_env), stdout=out,
                              stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT)
    assert done.returncode == 0, f"README's serving set-up failed:\n{script}\n{log_tail(log)}"
    model_env.build_seconds = time.monotonic() - start
    model_env.requirements = (model_env.model_dir / "requirements.txt").read_text().split()
    print(f"model environment built by README's commands in {model_env.build_seconds:.0f} s")
    return model_env


@pytest.fixture(scope="session")
def model_env(materialised_graph: GraphEnv, tmp_path_factory: pytest.TempPathFactory) -> ModelEnv:
    """The registered champion's own environment, built once per session by README's commands."""
    return build_model_env(materialised_graph.mlflow_uri, tmp_path_factory.mktemp("model_env"))


@pytest.fixture(scope="session")
def served_champion(
    materialised_graph: GraphEnv, model_env: ModelEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScoringServer]:
    """README's `mlflow models serve` line (with README's `export` before it), on a free loopback port.

    `--env-manager local` here means "the environment this `mlflow` runs in", which README's `PATH=` prefix makes
    the model's own; the `cd` keeps the checkout off `sys.path` (uvicorn puts its working directory there).
    """
    port = free_port()
    block = readme_commands(model_env, materialised_graph.mlflow_uri, port)
    log = tmp_path_factory.mktemp("serve") / "mlflow_serve.log"
    cmd = ["bash", "-e", "-c", f"{block.setup[0]}\n{block.serve}"]  # README's `export`, then its serve line
    # Its own process group (bash, mlflow, uvicorn), SIGKILLed as a whole when the session ends.
    with background(cmd, log, user_environ(model_env), cwd=model_env.workdir, stop_signal=signal.SIGKILL) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers_ping(url), "mlflow models serve", STARTUP_TIMEOUT, proc, log)
        yield ScoringServer(url=url, model_uri=CHAMPION_URI, env=materialised_graph, model_env=model_env, log=log,
                            request=block.request)
