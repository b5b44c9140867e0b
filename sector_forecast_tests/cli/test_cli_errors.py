"""Bad input ends a command with one line naming the cause; the traceback only on request (issue 23)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scripts.processes import VENV_BIN
from sector_forecast_tests.deploy.services import isolated_env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "sector-forecast"), *args, "run", "--stage", "demo14_job"], cwd=tmp_path,
                          env=isolated_env(DAGSTER_HOME=str(tmp_path / "home"), **env), capture_output=True,
                          text=True, timeout=300)


def test_a_bad_now_is_one_line_naming_the_variable_the_value_and_the_format(tmp_path: Path) -> None:
    done = _run(tmp_path, SECTOR_FORECAST_NOW="garbage")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: SECTOR_FORECAST_NOW='garbage' is not an ISO date or datetime (e.g. 2027-01-05 or 2027-01-05T10:00)"
    ], done.stderr


def test_the_traceback_of_an_unexpected_error_is_there_on_request(tmp_path: Path) -> None:
    # An unreadable instance config is no input the CLI checks: an unexpected error, one line by default.
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text("run_monitoring: [not, a, mapping]\n")
    plain = _run(tmp_path)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr, plain.stderr
    (last,) = plain.stderr.strip().splitlines()[-1:]
    assert last.startswith("Error: ") and last.endswith("(--debug or SECTOR_FORECAST_DEBUG=1 for the traceback)")
    for debug in (_run(tmp_path, "--debug"), _run(tmp_path, SECTOR_FORECAST_DEBUG="1")):
        assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr, debug.stderr
