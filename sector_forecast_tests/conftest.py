"""Shared fixtures: a temporary Dagster instance, store and MLflow tracking URI, wired to a local StatBank server.

`graph_env(url)` builds the real `Definitions` with resources pointing at temporary locations; nothing of
ours is mocked. The session fixture `materialised_graph` runs the whole pipeline once per test run (about two
minutes on two cores), also under pytest-xdist: the first worker that needs it builds it, and every worker
reads a private copy of it. `pytest_collection_modifyitems` groups the tests for xdist's `loadgroup` scheduling
(`_sharing_scope`) and puts the slowest first (`SLOW_FIRST`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from filelock import FileLock

from sector_forecast import clock
from sector_forecast.defs.definitions import build_definitions
from sector_forecast.defs.pipeline import PipelineResult, run_pipeline
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.statbank import StatBankClient
from sector_forecast_tests.statbank_server import SNAPSHOT, ServerHandle, running_statbank_server


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


def copy_graph(source: Path, root: Path, url: str) -> GraphEnv:
    """A writable copy of the graph materialised in `source` (instance, store, MLflow and its artifacts).

    MLflow stores artifact locations as absolute URIs; the copy's are rewritten to its own `artifacts`, so
    nothing a test writes into the copy lands in `source`. `url` is the StatBank server the copy talks to.
    """
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("dagster_home", "storage", "artifacts"):
        if (source / folder).exists():
            shutil.copytree(source / folder, root / folder)
    copy_sqlite(source / "mlflow.db", root / "mlflow.db")
    _replace_in_text_columns(root / "mlflow.db", str(source), str(root))
    return make_graph_env(root, url)


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy an SQLite database with SQLite's backup API: a WAL-mode store (MLflow's, `tracking/runs.py`) may
    still hold committed rows in its `-wal` file while the process that wrote them is alive."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _replace_in_text_columns(db: Path, old: str, new: str) -> None:
    """Replace `old` by `new` in every text value of an SQLite database (paths inside MLflow's tables)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]:
                conn.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", :old, :new) '
                    f'WHERE typeof("{column}") = :text AND instr("{column}", :old) > 0',
                    {"old": old, "new": new, "text": "text"},
                )


def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory of this whole run: under xdist, the parent of every worker's own basetemp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(root: Path, build: Callable[[Path], None]) -> Path:
    """`root` once `build(root)` has succeeded in one of this run's processes; the others wait for it.

    A build that failed leaves no `.complete` marker, so the next process to ask retries it from scratch
    (and fails with its own error), rather than reading a half-built graph.
    """
    complete = root.with_name(f"{root.name}.complete")
    with FileLock(root.with_name(f"{root.name}.lock")):  # between this run's processes (xdist workers)
        if not complete.exists():
            shutil.rmtree(root, ignore_errors=True)
            build(root)
            complete.touch()
    return root


@pytest.fixture(scope="session")
def session_statbank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One local StatBank server over the bundled snapshot for read-only session tests."""
    with running_statbank_server(SNAPSHOT, tmp_path_factory.mktemp("session_statbank")) as server:
        yield server


def _build_graph(root: Path, url: str) -> None:
    """Materialise the whole graph into `root` (what `materialised_graph` copies)."""
    env = make_graph_env(root, url)
    try:
        result = env.run()
        assert result.success, [(s.job, s.success) for s in result.stages]
    finally:
        env.instance.dispose()


@pytest.fixture(scope="session")
def materialised_graph(tmp_path_factory: pytest.TempPathFactory, session_statbank: ServerHandle) -> GraphEnv:
    """The whole graph materialised once per test run, as this worker's own copy; tests must not modify it.

    Built once for all xdist workers (two minutes each would be lost per extra worker); the copy keeps every
    worker's instance, store and MLflow store private, pointed at the worker's own live StatBank server.
    """
    built = built_once(run_root(tmp_path_factory) / "materialised_graph", lambda root: _build_graph(
        root, session_statbank.url))
    return copy_graph(built, tmp_path_factory.mktemp("graph"), session_statbank.url)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which date the suite runs at: CI runs it again under faketime, and a log must show which run it is."""
    pinned = clock.override()
    source = f"{clock.ENV_VAR}={pinned.isoformat()}" if pinned else "system clock"
    return f"sector_forecast now: {clock.now():%Y-%m-%d %H:%M} UTC ({source})"


# The slowest work first (node-id prefixes; times from `--durations`): xdist hands out work units in this order,
# one more to a worker as soon as it has two tests or fewer left, so a one-test unit (the CLI runs, the image)
# is followed on its worker by the next unit, which is therefore one of several tests. The first unit reads
# `materialised_graph`, so its build starts at once; the next few do not need it.
SLOW_FIRST = (
    "sector_forecast_tests/automation/test_automation_flow.py",  # builds materialised_graph: ~3 min
    "sector_forecast_tests/reliability/",  # `sector-forecast run`s killed and raced, SQLite and PostgreSQL: ~3 min
    "sector_forecast_tests/e2e/",  # `sector-forecast run` of the panel, `dagster dev`, a browser: ~3 min
    "sector_forecast_tests/deploy/test_deploy_image.py",  # podman build, the graph in containers: ~4 min
    "sector_forecast_tests/pipeline/test_pipeline_early_quarter.py",  # the whole graph again: ~1 min
    "sector_forecast_tests/deploy/test_deploy_postgres.py",  # PostgreSQL and the compose services: ~2 min
    "sector_forecast_tests/serving/",
    "sector_forecast_tests/monitoring/test_monitoring_retrain.py",
    "sector_forecast_tests/pipeline/test_pipeline_graph.py",
)
NARROWER_THAN_A_SESSION = ("package", "module", "class")
RUN_WIDE = ("", "sector_forecast_tests")  # where pytest's and this file's session fixtures are defined


def _sharing_scope(item: pytest.Item) -> str | None:
    """The widest set of tests that share one of this test's fixtures, besides this file's and pytest's own.

    A session fixture of a folder's conftest (built once per worker) makes the folder one group; a module,
    class or package fixture makes the module one. Tests that share none go to any free worker on their own.
    """
    info = getattr(item, "_fixtureinfo", None)
    narrower = None
    for defs in (info.name2fixturedefs.values() if info else ()):
        if not defs:
            continue
        if defs[-1].scope == "session" and defs[-1].baseid not in RUN_WIDE:
            return defs[-1].baseid
        if defs[-1].scope in NARROWER_THAN_A_SESSION:
            narrower = item.nodeid.split("::", 1)[0]
    return narrower


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the marks into the node ids it schedules by
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests for xdist's `loadgroup` and hand out the slowest first.

    Tests sharing an expensive fixture stay on one worker, so it is built once (see `_sharing_scope`); a whole
    module goes where its widest-sharing test goes. An explicit `xdist_group` mark wins. Of this file's
    session fixtures, `materialised_graph` is built once per run whatever the worker.
    """
    by_module: dict[str, str] = {}
    for item in items:
        module, scope = item.nodeid.split("::", 1)[0], _sharing_scope(item)
        if scope is not None and (module not in by_module or len(scope) < len(by_module[module])):
            by_module[module] = scope  # a folder's id is shorter than any of its modules'
    for item in items:
        group = by_module.get(item.nodeid.split("::", 1)[0])
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))

    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: every module keeps its own order and stays contiguous
