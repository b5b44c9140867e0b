"""Shared fixtures: a temporary Dagster instance, store and MLflow tracking URI, wired to a local StatBank server.

`graph_env(url)` builds the real `Definitions` with resources pointing at temporary locations; nothing of
ours is mocked. The session fixture `materialised_graph` runs the whole pipeline once (about two minutes on
two cores) for the tests that read its results.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from sector_forecast import clock
from sector_forecast.defs.definitions import build_definitions
from sector_forecast.defs.pipeline import PipelineResult, run_pipeline
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.statbank import StatBankClient
from sector_forecast_tests.statbank_server import SNAPSHOT, ServerHandle, running_statbank_server

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


@dataclass
class GraphEnv:
    """Everything a test needs to materialise the real graph in isolation."""

    root: Path
    url: str
    instance: dg.DagsterInstance
    defs: dg.Definitions
    mlflow_uri: str

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def client(self) -> StatBankClient:
        return StatBankClient(base_url=self.url)

    def run(self, jobs: list[str] | None = None) -> PipelineResult:
        return run_pipeline(self.defs, self.instance, self.client, jobs=jobs, echo=lambda _: None)


def make_graph_env(root: Path, url: str) -> GraphEnv:
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.local_temp(tempdir=str(root / "dagster_home"))
    mlflow_uri = f"sqlite:///{root / 'mlflow.db'}"
    defs = build_definitions(
        statbank=StatBankResource(base_url=url, retries=1, timeout=10),
        mlflow=MlflowResource(tracking_uri=mlflow_uri),
        storage_dir=str(root / "storage"),
    )
    return GraphEnv(root=root, url=url, instance=instance, defs=defs, mlflow_uri=mlflow_uri)


@pytest.fixture(scope="session")
def session_statbank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One local StatBank server over the bundled snapshot for read-only session tests."""
    with running_statbank_server(SNAPSHOT, tmp_path_factory.mktemp("session_statbank")) as server:
        yield server


@pytest.fixture(scope="session")
def materialised_graph(tmp_path_factory: pytest.TempPathFactory, session_statbank: ServerHandle) -> GraphEnv:
    """The whole graph materialised once from the local server; tests must not modify it."""
    env = make_graph_env(tmp_path_factory.mktemp("graph"), session_statbank.url)
    result = env.run()
    assert result.success, [(s.job, s.success) for s in result.stages]
    return env


def pytest_report_header(config: pytest.Config) -> str:
    """Say which date the suite runs at: CI runs it again under faketime, and a log must show which run it is."""
    pinned = clock.override()
    source = f"{clock.ENV_VAR}={pinned.isoformat()}" if pinned else "system clock"
    return f"sector_forecast now: {clock.now():%Y-%m-%d %H:%M} UTC ({source})"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Start every test without a "current" Dagster defs-state storage.

    Dagster keeps it in a context variable that an entered instance sets and resets with a token. Sensor and
    schedule contexts built without `with` enter an ephemeral instance that is only exited when the garbage
    collector finalises them, possibly out of order, which can leave the variable pointing at a dead instance:
    loading any `Definitions` then fails with "undefined DagsterInstance weakref". The tests use `with`; this
    collects what a previous test left behind *now* (not during the next test's set-up) and clears the rest.
    """
    import gc

    from dagster._core.storage.defs_state import base as defs_state

    gc.collect()
    defs_state._current_storage.set(None)
