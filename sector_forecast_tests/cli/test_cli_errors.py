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


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env.setdefault("DAGSTER_HOME", str(tmp_path / "home"))
    return subprocess.run([str(VENV_BIN / "sector-forecast"), *args], cwd=tmp_path, env=isolated_env(**env),
                          capture_output=True, text=True, timeout=300)


def _one_line(done: subprocess.CompletedProcess, status: int) -> str:
    """The command's whole output: one `Error: ...` line on stderr, no usage block, no traceback."""
    assert done.returncode == status and done.stdout == "", (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


def test_usage_errors_of_the_top_level_commands_are_one_line(tmp_path: Path) -> None:
    line = _one_line(_cli(tmp_path, "run", "--stage", "nope"), 2)
    assert line.startswith("Error: Invalid value for --stage: nope (stages: konk4_job, "), line
    assert _one_line(_cli(tmp_path, "run", "--bogus"), 2) == "Error: No such option '--bogus'."
    assert _one_line(_cli(tmp_path, "--bogus", "run"), 2) == "Error: No such option '--bogus'."
    line = _one_line(_cli(tmp_path, "ui", "--port", "x"), 2)
    assert line == "Error: Invalid value for '--port': 'x' is not a valid integer.", line
    assert _one_line(_cli(tmp_path, "nope"), 2) == "Error: No such command 'nope'."


def test_a_bad_statbank_url_is_named_as_its_variable(tmp_path: Path) -> None:
    line = _one_line(_cli(tmp_path, "run", SECTOR_FORECAST_STATBANK_URL="notaurl"), 1)
    assert line == ("Error: SECTOR_FORECAST_STATBANK_URL='notaurl' is not an http:// or https:// URL "
                    "(e.g. https://api.statbank.dk/v1; unset it for the bundled snapshot)")


def test_a_bad_number_of_workers_is_named_as_its_variable(tmp_path: Path) -> None:
    line = _one_line(_cli(tmp_path, "run", SECTOR_FORECAST_WORKERS="two"), 1)
    assert line == "Error: SECTOR_FORECAST_WORKERS='two': expected a whole number of processes, 1 or more"


def test_a_dagster_home_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    for command in ("run", "evaluate", "ui"):
        line = _one_line(_cli(tmp_path, command, DAGSTER_HOME=str(tmp_path / "afile")), 1)
        assert line.startswith(f"Error: DAGSTER_HOME='{tmp_path / 'afile'}' is not a directory"), line
