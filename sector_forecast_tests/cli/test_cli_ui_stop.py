"""`sector-forecast ui` stops with everything it started: `kill <pid>` must not leave a daemon launching runs.

A real `sector-forecast ui` on a free port with its own `$DAGSTER_HOME`; the test signals the CLI's pid only,
as a user or a service manager would. Whatever happens, `killing_tree` SIGKILLs the process groups of the
tree it recorded, and `background` the CLI's own group.
"""

from __future__ import annotations

import io
import re
import signal
import time
from pathlib import Path

import requests

from scripts.processes import (
    VENV_BIN,
    ProcessInfo,
    background,
    descendants,
    free_port,
    killing_tree,
    log_tail,
    wait_until,
)
from sector_forecast.cli.main import STOP_GRACE_SECONDS, _pump
from sector_forecast_tests.deploy.services import isolated_env, port_is_free

# What `dagster dev` runs, by a fragment of each command line.
PARTS = {
    "dagster dev": "dagster dev",
    "webserver": "dagster_webserver",
    "daemon": "dagster._daemon",
    "code server": "dagster code-server",
}


# An INFO line of the webserver or of a daemon (`... - dagster.daemon.SensorDaemon - INFO - Checking for ...`).
INFO_LINE = re.compile(r" - (dagster\.daemon[\w.]*|dagster-webserver) - INFO - ")


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _missing(tree: dict[int, ProcessInfo]) -> list[str]:
    return [name for name, part in PARTS.items() if not any(part in p.cmdline for p in tree.values())]


def test_sigterm_stops_dagster_dev_and_every_process_it_started(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "ui.log"
    env = isolated_env(DAGSTER_HOME=str(tmp_path / "home"))
    cmd = [str(VENV_BIN / "sector-forecast"), "ui", "--port", str(port)]
    with background(cmd, log, env=env, cwd=tmp_path) as cli, killing_tree(cli) as tree:
        wait_until(lambda: _answers(port), "dagster webserver", 240, cli, log)

        def complete() -> bool:
            tree.update(descendants(cli.pid))
            return not _missing(tree)

        wait_until(complete, f"dagster dev's processes ({', '.join(PARTS)})", 60, cli, log)

        started = time.monotonic()
        cli.send_signal(signal.SIGTERM)
        cli.wait(timeout=STOP_GRACE_SECONDS + 30)
        stopped_in = time.monotonic() - started

        deadline = time.monotonic() + 5  # init collects what the CLI did not wait for itself
        while any(p.exists() for p in tree.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [f"{p.pid} {p.state} {p.cmdline[:100]}" for p in tree.values() if p.exists()]
        assert not left, "still running after SIGTERM:\n" + "\n".join(left) + "\n" + log_tail(log)
        assert port_is_free(port), f"port {port} still taken\n{log_tail(log)}"
        assert cli.returncode == 0, f"exit status {cli.returncode}\n{log_tail(log)}"
        # How long the graceful stop took is a figure, not a pass/fail: under load dagster dev's daemon can
        # outlast the grace period, and then the CLI's SIGKILL of the group (asserted above) is the guarantee.
        print(f"stopped in {stopped_in:.1f}s (grace {STOP_GRACE_SECONDS}s)")
        text = log.read_text(errors="replace")
        assert "will not be used" not in text and "SupersessionWarning" not in text, log_tail(log)
        # The log is a file, not a terminal: no colour codes (dagster dev colours whatever its output is).
        assert "\x1b[" not in text, log_tail(log)
        # Quiet by default (issue 23.7): the CLI says where the UI is, the daemon's ticks and the webserver's INFO
        # lines are not shown (`--verbose` shows them).
        assert f"the UI will be at http://127.0.0.1:{port} " in text, log_tail(log)
        assert not INFO_LINE.search(text), log_tail(log)


def test_output_to_a_file_loses_its_colour_codes_line_by_line() -> None:
    coloured = b"\x1b[32m2026-12-06 - dagster - WARNING\x1b[0m - one\n\x1b[1;31mtwo\x1b[0m\n"
    out = io.BytesIO()
    _pump(io.BytesIO(coloured), out, plain=True)
    assert out.getvalue() == b"2026-12-06 - dagster - WARNING - one\ntwo\n"
