"""`sector-forecast statbank ...`: readable answers, and bad input as one line naming argument, value and
expectation (issue 23). Run through click's test runner on the real command group, against a real server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sector_forecast.cli.statbank import statbank
from sector_forecast_tests.statbank_server import SNAPSHOT


def _run(*args: str) -> Result:
    return CliRunner().invoke(statbank, list(args))


def _one_line_error(result: Result) -> str:
    """The whole output of a failed command: exactly one `Error: ...` line, no usage block, no traceback."""
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.exception  # no traceback
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_revise_close_and_reset_print_a_readable_line(statbank_server):
    url = statbank_server.url
    result = _run("revise", "--url", url, "KONK25", "BRANCHE25=A", "VIRKTYP1=K02", "Tid=2026M09", "--value", "7")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("KONK25: BRANCHE25=A VIRKTYP1=K02 Tid=2026M09 revised to 7 (latestPeriod=2026M09 ")
    result = _run("close", "--url", url, "KONK25", "--successor", "KONK26")
    assert result.output.startswith("KONK25: closed, replaced by KONK26 (latestPeriod=2026M09 ")
    assert result.output.endswith(" active=False)\n")
    assert _run("reset", "--url", url).output == f"{url}: back at its snapshot\n"


def test_close_successor_has_a_description():
    assert "Table that replaces it" in _run("close", "--help").output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["pull"], "Error: Missing option '--out'."),
        (["serve", "--port", "70000"], "Error: Invalid value for '--port': 70000 is not in the range 0<=x<=65535."),
        (["serve", "--snapshot", "/nonexistent"],
         "Error: Invalid value for '--snapshot': '/nonexistent' is not a snapshot directory (no tables.json in it)"),
        (["revise", "--url", "http://127.0.0.1:9/v1", "KONK25", "BRANCHE25", "--value", "1"],
         "Error: Invalid value for 'CELL': 'BRANCHE25' is not VAR=CODE (e.g. BRANCHE25=A)"),
        (["status", "--url", "api.statbank.dk/v1"],
         "Error: StatBank: base URL 'api.statbank.dk/v1' is not an http:// or https:// URL"),
        (["nope"], "Error: No such command 'nope'."),
    ],
)
def test_bad_input_is_one_line(args, expected):
    assert _one_line_error(_run(*args)) == expected


def test_unreachable_url_names_url_and_cause():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    line = _one_line_error(_run("status", "--url", url))
    # the client's default retries=3: four attempts
    assert line == f"Error: KONK4,KONK25,DEMO14: StatBank at {url} unreachable after 4 attempts: connection refused"
    line = _one_line_error(_run("publish", "--url", url, "KONK25"))
    assert line == f"Error: KONK25: local server at {url} unreachable: connection refused"


def test_server_refusals_are_one_line(statbank_server):
    line = _one_line_error(_run("publish", "--url", statbank_server.url, "NOPE1"))
    assert line == "Error: NOPE1: publish failed: Table NOPE1 not found"
    line = _one_line_error(_run("publish", "--url", statbank_server.url, "KONK25", "--period", "2026M09"))
    assert line == "Error: KONK25: publish failed: publish: KONK25: period 2026M09 is already published"


def test_pull_never_replaces_a_snapshot_without_force(statbank_server, tmp_path: Path):
    out = tmp_path / "snap"
    out.mkdir()
    (out / "tables.json").write_text("[]")
    line = _one_line_error(_run("pull", "--url", statbank_server.url, "--out", str(out)))
    assert line == (
        f"Error: Invalid value for '--out': '{out}' already exists and is not empty; pass --force to replace it"
    )
    assert (out / "tables.json").read_text() == "[]"  # untouched
    result = _run("pull", "--url", statbank_server.url, "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "KONK25: 10863 cells, 2009M01..2026M09"  # 17 groups x 3 types x 213 months
    assert (out / "provenance.csv").read_bytes() == (SNAPSHOT / "provenance.csv").read_bytes()
