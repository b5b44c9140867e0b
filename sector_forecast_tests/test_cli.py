"""The `sector-forecast` console script, run as a user runs it (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sector_forecast_tests.statbank_server import ServerHandle

CLI = [sys.executable, "-m", "sector_forecast.cli.main"]


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


@pytest.mark.parametrize("command", [[], ["run"], ["ui"], ["statbank"], ["statbank", "serve"], ["statbank", "pull"]])
def test_every_command_explains_itself(command: list[str]) -> None:
    result = _cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 4


def test_run_creates_a_default_instance_and_prints_a_summary(
    tmp_path: Path, session_statbank: ServerHandle
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "MLFLOW_TRACKING_URI"}}
    env["SECTOR_FORECAST_STATBANK_URL"] = session_statbank.url
    result = _cli("run", "--stage", "demo14_job", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    home = tmp_path / ".dagster_home"
    assert (home / "dagster.yaml").exists()
    assert "demo14_job" in result.stdout and "2019..2023" in result.stdout and "OK: 1 stage run(s)" in result.stdout
    assert sorted(p.stem for p in (home / "storage" / "demo14_raw").glob("*.parquet")) == [
        "2019", "2020", "2021", "2022", "2023"]


def test_run_against_an_unreachable_server_fails_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "SECTOR_FORECAST_STATBANK_URL": "http://127.0.0.1:9/v1"}
    result = _cli("run", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(
        "Error: KONK25: StatBank at http://127.0.0.1:9/v1 unreachable")  # one line: the URL and the cause
    assert "Traceback" not in result.stdout + result.stderr
