"""A run the UI launched, whose worker dies, is not left running (issue 20).

A real `sector-forecast ui` (`dagster dev`) on a free port and a fresh instance over the bundled snapshot, its
sensors and schedules stopped before its daemon starts. A stage run is launched through GraphQL as the UI's
launchpad does (`launchPipelineExecution`, a partition range as one run, as a single-run backfill makes it)
and killed once its run worker has tagged it (`defs/run_process.py`), long before its ~30 s of work end:

1. its worker alone: Dagster's code server, still alive, fails the run itself (no `sector-forecast` involved);
2. its worker with the whole of `dagster dev` (a `kill -9` of its process group, a power loss): nobody is left
   to notice, the run stays STARTED, and the next `sector-forecast ui` fails it, naming the worker's pid.

Whatever happens, `killing_tree` SIGKILLs every process group below the CLI and `background` the CLI's own.

On SQLite only: `dagster dev` and two run workers cost most of a minute even on an idle machine, and what
differs on PostgreSQL (the sweep judging and failing runs in PostgreSQL's run storage) is
`test_kill_and_concurrency.py`'s PostgreSQL case; the worker's tag is written by the same Dagster call.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from scripts.processes import (
    VENV_BIN,
    ProcessInfo,
    background,
    descendants,
    free_port,
    graphql_over_http,
    killing_tree,
    wait_until,
)
from scripts.ui_pages import location_loaded
from sector_forecast.defs.pipeline import published_ranges
from sector_forecast.defs.run_process import HOST_TAG, PROCESS_TAG, process_token
from sector_forecast.statbank import StatBankClient
from sector_forecast_tests.deploy.runs import submit
from sector_forecast_tests.deploy.services import graphql_via_cli, stop_instigators
from sector_forecast_tests.reliability.conftest import Home, ui_until_swept

STAGE = "konk25_job"  # 213 months in one run: ~30 s of work, killed in its first seconds

pytestmark = pytest.mark.timeout(600)


def _run_worker(home: Home, run_id: str, cli, tree: dict[int, ProcessInfo], log: Path) -> ProcessInfo:
    """The process the run's tag names, once the run is STARTED and tagged; checked to be its run worker."""
    with home.instance() as instance:
        def tagged() -> bool:
            run = instance.get_run_by_id(run_id)
            return run.status == dg.DagsterRunStatus.STARTED and PROCESS_TAG in run.tags

        wait_until(tagged, f"run {run_id[:8]} started and tagged by its worker", 180, cli, log, poll=0.2)
        tags = instance.get_run_by_id(run_id).tags
    pid = int(tags[PROCESS_TAG].split(":")[0])
    tree.update(descendants(cli.pid))
    assert pid in tree, f"{tags[PROCESS_TAG]} is no process of dagster dev: {sorted(tree)}"
    worker = tree[pid]
    # The run worker the code server spawned, not the code server, the daemon or the CLI; not a recycled pid.
    assert "multiprocessing" in worker.cmdline and "dagster api grpc" in tree[worker.ppid].cmdline, worker
    assert tags[PROCESS_TAG] == process_token(pid) and tags[HOST_TAG] == socket.gethostname(), tags
    return worker


def _status(home: Home, run_id: str) -> dg.DagsterRunStatus:
    with home.instance() as instance:
        return instance.get_run_by_id(run_id).status


@pytest.mark.parametrize("home", ["sqlite"], indirect=True)
def test_a_ui_run_whose_worker_dies_is_failed_by_its_code_server_or_the_next_use(home: Home, tmp_path: Path) -> None:
    stop_instigators(graphql_via_cli(home.env, tmp_path))  # stored in the instance before the daemon's first tick
    window = published_ranges(StatBankClient())[STAGE]
    port, log = free_port(), tmp_path / "ui.log"
    cmd = [str(VENV_BIN / "sector-forecast"), "ui", "--port", str(port)]
    with background(cmd, log, env=home.env, cwd=home.path) as cli, killing_tree(cli) as tree:
        execute = graphql_over_http(f"http://127.0.0.1:{port}/graphql")
        wait_until(lambda: location_loaded(lambda doc: execute(doc, {})), "dagster dev", 240, cli, log)
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)

        alone = submit(client, STAGE, window)
        os.kill(_run_worker(home, alone, cli, tree, log).pid, signal.SIGKILL)
        wait_until(lambda: _status(home, alone) == dg.DagsterRunStatus.FAILURE, "the code server's verdict", 60,
                   cli, log)
        with home.instance() as instance:
            said = [e.message for e in instance.all_logs(alone, of_type=dg.DagsterEventType.ENGINE_EVENT)]
        assert any(f"Run execution process for {alone} was terminated by signal 9" in m for m in said), said

        with_dev = submit(client, STAGE, window)
        worker = _run_worker(home, with_dev, cli, tree, log)
        tree.update(descendants(cli.pid))
        for pgid in {p.pgid for p in tree.values()}:  # dagster dev's group: webserver, daemon, code server, worker
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        cli.wait(timeout=60)
    wait_until(lambda: not worker.exists(), "the killed worker collected", 60)  # a zombie's pid still answers
    assert _status(home, with_dev) == dg.DagsterRunStatus.STARTED  # what the issue saw: nobody says it died

    out = ui_until_swept(home, tmp_path / "next.log")
    assert f"run {with_dev[:8]} ({STAGE}) interrupted: process {worker.pid} " in out, out
    with home.instance() as instance:
        assert instance.get_run_by_id(with_dev).status == dg.DagsterRunStatus.FAILURE
        (failure,) = instance.all_logs(with_dev, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert instance.get_run_by_id(alone).status == dg.DagsterRunStatus.FAILURE  # judged once, left alone
    assert f"process {worker.pid} " in failure.message, failure.message
