"""Fixtures for the browser tests: the Dagster UI as an analyst opens it, and headless Chromium to drive it.

One `sector-forecast ui` (= `dagster dev`: webserver, daemon, code server) per test module, on a free port
of 127.0.0.1, with a temporary `$DAGSTER_HOME` holding the project's dagster.yaml, the local StatBank
server as its source and a temporary MLflow store. Before the UI starts, the raw tables and the panel are
materialised with `sector-forecast run` (what an analyst does first), and the sensors are switched off
so that the only runs are the ones the tests launch. Chromium is Debian's (/usr/bin/chromium) driven by
Playwright; nothing is downloaded. Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.processes import REPO, VENV_BIN, background, free_port, graphql_over_http, log_tail, wait_until
from scripts.ui_pages import CHROMIUM, chromium, location_loaded, ui_page
from sector_forecast_tests.deploy.services import graphql_via_cli, isolated_env, stop_instigators
from sector_forecast_tests.statbank_server import ServerHandle, running_statbank_server

ARTIFACTS = REPO / "test-artifacts" / "e2e"
PRE_MATERIALISED = ["konk4_job", "konk25_job", "demo14_job", "panel_job"]


@dataclass
class DagsterUI:
    """A running `dagster dev` and what the tests need to reach it and its source."""

    url: str
    home: Path
    statbank: ServerHandle
    graphql: Callable[[str, dict], dict]
    log: Path

    def query(self, document: str, **variables: object) -> dict:
        return self.graphql(document, variables)


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    root = tmp_path_factory.mktemp("dagster_ui")
    home = root / "dagster_home"
    with running_statbank_server(tmp_path=root) as statbank:
        env = isolated_env(
            DAGSTER_HOME=str(home),
            SECTOR_FORECAST_STATBANK_URL=statbank.url,
            MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        )
        stages = [arg for job in PRE_MATERIALISED for arg in ("--stage", job)]
        # `run` copies the project's dagster.yaml into the new home and opens the instance, creating its SQLite
        # storages; the sensors are stopped meanwhile, once its first stage line shows the storages exist (two
        # processes creating one SQLite schedule storage at once can both stamp its schema: "alembic_version has
        # more than one head", seen 2026-12-07).
        with background([str(VENV_BIN / "sector-forecast"), "run", *stages], root / "run.log", env) as run:
            wait_until(lambda: "→ " in (root / "run.log").read_text(errors="replace"), "sector-forecast run's "
                       "first stage", 180, run, root / "run.log")  # fmt: skip
            stop_instigators(graphql_via_cli(env, root))
            assert run.wait(timeout=600) == 0, log_tail(root / "run.log")
        port = free_port()
        log = root / "dagster_dev.log"
        with background([str(VENV_BIN / "sector-forecast"), "ui", "--port", str(port)], log, env) as dev:
            url = f"http://127.0.0.1:{port}"
            ui = DagsterUI(
                url=url, home=home, statbank=statbank, graphql=graphql_over_http(f"{url}/graphql"), log=log
            )
            wait_until(lambda: location_loaded(ui.query), "dagster dev", 180, dev, log)
            yield ui


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless (`scripts/ui_pages.chromium`), for every test of the module."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (installs Debian's chromium)")
    with chromium() as launched:
        yield launched


@dataclass
class Shots:
    """Numbered screenshots of one test, kept as artefacts: test-artifacts/e2e/<test>-<n>-<step>.png."""

    page: object
    prefix: str
    count: int = 0

    def take(self, step: str, full_page: bool = False) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count}-{step}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def page(browser, dagster_ui: DagsterUI, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context per test; its last screen is saved whether the test passed or failed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with ui_page(browser, dagster_ui.url, timeout_ms=30_000) as tab:
        try:
            yield tab
        finally:
            tab.screenshot(path=str(ARTIFACTS / f"{request.node.name.removeprefix('test_')}-last.png"))


@pytest.fixture
def shots(page, request: pytest.FixtureRequest) -> Shots:
    return Shots(page, request.node.name.removeprefix("test_"))
