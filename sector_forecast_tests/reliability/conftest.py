"""A fresh `$DAGSTER_HOME` for real `sector-forecast run` processes, on SQLite or on a private PostgreSQL server.

The PostgreSQL variant writes `deploy/dagster.postgres.yaml` verbatim into the home and points its
`DAGSTER_PG_*` variables at a new database of the module's cluster (`deploy/conftest.py`'s `postgres`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from scripts.processes import REPO
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
