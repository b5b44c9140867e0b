"""A fresh `$DAGSTER_HOME` for real `sector-forecast run` processes, on SQLite or on a private PostgreSQL server.

The PostgreSQL variant writes `deploy/dagster.postgres.yaml` verbatim into the home and points its
`DAGSTER_PG_*` variables at a new database of the module's cluster (`deploy/conftest.py`'s `postgres`).
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from scripts.processes import REPO, VENV_BIN, background, free_port, wait_until
from sector_forecast.cli.main import STOP_GRACE_SECONDS
from sector_forecast.statbank.client import ENV_URL
from sector_forecast_tests.conftest import GraphEnv, copy_graph
from sector_forecast_tests.deploy.conftest import DEPLOY, postgres  # noqa: F401 (the fixture, for this folder)
from sector_forecast_tests.deploy.services import isolated_env


@dataclass
class Home:
    """An instance home and the environment a CLI process needs to use it."""

    path: Path
    env: dict[str, str]
    backend: str

    def instance(self) -> dg.DagsterInstance:
        """The instance as the CLI sees it (the PostgreSQL variables are set in this process too)."""
        return dg.DagsterInstance.from_config(str(self.path))


@pytest.fixture(params=["sqlite", "postgres"])
def home(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    path = tmp_path / "home"
    path.mkdir()
    extra = {"DAGSTER_HOME": str(path)}
    if request.param == "postgres":
        server = request.getfixturevalue("postgres")
        db = f"reliability_{tmp_path.name.lower().replace('-', '_')[-40:]}"
        server.create_database(db)
        shutil.copyfile(DEPLOY / "dagster.postgres.yaml", path / "dagster.yaml")
        pg = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(server.port), "DAGSTER_PG_DB": db,
              "DAGSTER_PG_USERNAME": server.user, "DAGSTER_PG_PASSWORD": server.password}
        for key, value in pg.items():
            monkeypatch.setenv(key, value)
        extra.update(pg)
    else:
        shutil.copyfile(REPO / "dagster.yaml", path / "dagster.yaml")
    yield Home(path=path, env=isolated_env(**extra), backend=request.param)


def ui_until_swept(home: Home, log: Path) -> str:
    """`sector-forecast ui` until it has judged the instance's runs (before `dagster dev` starts), then stopped."""
    cmd = [str(VENV_BIN / "sector-forecast"), "ui", "--port", str(free_port())]
    with background(cmd, log, env=home.env, cwd=home.path) as cli:
        wait_until(lambda: "dagster dev" in log.read_text(), "the ui's dagster dev command line", 300, cli, log)
        cli.send_signal(signal.SIGTERM)  # the CLI stops `dagster dev`'s own process group before it exits
        cli.wait(timeout=STOP_GRACE_SECONDS + 30)
    return log.read_text()


def cli_home(graph: GraphEnv, root: Path, **env: str) -> tuple[Path, dict[str, str], str]:
    """A private copy of `graph` laid out as a `$DAGSTER_HOME` the CLI uses: (home, its environment, MLflow URI)."""
    copy = copy_graph(graph.root, root, graph.url)
    copy.instance.dispose()
    home = copy.root / "dagster_home"
    shutil.copytree(copy.storage, home / "storage", dirs_exist_ok=True)  # where the CLI's instance keeps it
    return home, isolated_env(DAGSTER_HOME=str(home), MLFLOW_TRACKING_URI=copy.mlflow_uri,
                              **{ENV_URL: graph.url}, **env), copy.mlflow_uri
