"""Fixtures of the pipeline tests: a local StatBank server per test module, and a fresh graph per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sector_forecast_tests.conftest import GraphEnv, make_graph_env
from sector_forecast_tests.statbank_server import SNAPSHOT, ServerHandle, running_statbank_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One server over the bundled snapshot per module; tests that publish or revise call `reset()` first."""
    with running_statbank_server(SNAPSHOT, tmp_path_factory.mktemp("server"), faults=True) as handle:
        yield handle


@pytest.fixture
def env(server: ServerHandle, tmp_path: Path) -> GraphEnv:
    server.reset()
    return make_graph_env(tmp_path, server.url)
