"""`dagster dev` for speed.py: start it on a free loopback port, wait until it is usable, always stop it.

Why a module of its own: the `live`, `backfill` and `dev` parts all need the same lifecycle, and the
orchestration code under sector_forecast/defs changes under us, so everything here goes through public
interfaces only — the `dagster dev` command, its GraphQL API and the instance in `$DAGSTER_HOME`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from _common import REPO, VENV_BIN

from sector_forecast_tests.deploy.services import (
    background,
    descendants,
    free_port,
    graphql_over_http,
    isolated_env,
    killing_tree,
    wait_until,
)

SENSORS = """{ sensorsOrError(repositorySelector: {repositoryLocationName: "sector_forecast",
  repositoryName: "__repository__"}) { ... on Sensors { results { name minIntervalSeconds
  sensorState { status ticks(limit: 200) { timestamp endTimestamp status runIds
    requestedAssetMaterializationCount } } } } } }"""
LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"


@dataclass
class Dev:
    """A running `dagster dev`: where to reach it, its process group and its Dagster home."""

    url: str
    pgid: int
    home: Path
    started: float
    graphql: Callable[[str, dict], dict]

    def sensors(self) -> list[dict]:
        """Every sensor of the code location with its state and recent ticks (as the UI's sensor pages)."""
        return self.graphql(SENSORS, {})["sensorsOrError"].get("results") or []


def _loaded(url: str) -> bool:
    try:
        data = requests.post(url, json={"query": LOADED}, timeout=5).json()["data"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    entries = (data.get("workspaceOrError") or {}).get("locationEntries") or []
    return any((e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries)


@contextmanager
def dagster_dev(home: Path, statbank_url: str | None, timeout: float = 300) -> Iterator[Dev]:
    """`dagster dev` (webserver + daemon + code server) on `home`; every process it started is killed on exit.

    `background` stops the process group; `killing_tree` also reaches run workers or code servers that a
    future Dagster might start in a session of their own.
    """
    port = free_port()
    extra = {"DAGSTER_HOME": str(home)}
    if statbank_url:
        extra["SECTOR_FORECAST_STATBANK_URL"] = statbank_url
    workspace = str(REPO / "workspace.yaml")
    cmd = [str(VENV_BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", workspace]
    log = home.parent / "dagster_dev.log"
    url = f"http://127.0.0.1:{port}"
    started = time.time()
    with background(cmd, log, isolated_env(**extra)) as proc, killing_tree(proc) as tree:
        wait_until(lambda: _loaded(f"{url}/graphql"), "dagster dev", timeout, proc, log)
        tree.update(descendants(proc.pid))
        yield Dev(url, proc.pid, home, started, graphql_over_http(f"{url}/graphql"))


def settle(dev: Dev, instance, busy: Callable[[object], bool], quiet: float = 10, timeout: float = 600,
           warmup: float = 30) -> float:
    """Wait `warmup` s after start, then until nothing ran for `quiet` s; return the seconds waited.

    Publishing before the daemon's first sensor and automation ticks would time its start-up, not the
    publication's path. 30 s covers the first tick of the publication (10-30 s) and automation (5-15 s)
    sensors. Not "every sensor has ticked": a sensor's ticks are not always listed by GraphQL after a
    restart, and a 600 s freshness sensor would hold every repetition for ten minutes.
    """
    began = time.time()
    last_busy = time.time()
    while time.time() - began < timeout:
        if busy(instance):
            last_busy = time.time()
        warm = time.time() - dev.started >= warmup
        if warm and time.time() - last_busy >= quiet:
            return time.time() - began
        time.sleep(1)
    raise TimeoutError(f"dagster dev did not settle within {timeout:.0f} s")


def save_home(home: Path) -> Path:
    """Keep a copy of a prepared home beside it, so that every repetition starts from the same state."""
    copy = home.parent / "home.prepared"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(home, copy)
    return copy


def restore_home(home: Path, copy: Path) -> None:
    """Put the prepared state back at the same absolute path (the MLflow store records absolute paths)."""
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(copy, home)
