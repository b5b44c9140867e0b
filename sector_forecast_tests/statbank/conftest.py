"""Fixtures for the StatBank tests: one local server per module (reset before each test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sector_forecast_tests.statbank_server import SNAPSHOT, ServerHandle, running_statbank_server


@pytest.fixture(scope="module")
def _module_server(tmp_path_factory: pytest.TempPathFactory):
    with running_statbank_server(SNAPSHOT, tmp_path_factory.mktemp("statbank_server"), faults=True) as server:
        yield server


@pytest.fixture
def statbank_server(_module_server: ServerHandle) -> ServerHandle:
    """A running local StatBank server over the bundled snapshot, back at the snapshot for each test."""
    _module_server.reset()
    return _module_server


@pytest.fixture
def snapshot_dir() -> Path:
    return SNAPSHOT
