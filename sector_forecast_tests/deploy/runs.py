"""Submitting stage runs through the webserver and waiting for them in PostgreSQL's `runs` table.

Shared by test_deploy_postgres.py (services as local processes) and test_deploy_image.py (services as
containers of the project image): both check what happened where it is stored, in PostgreSQL, not through
Dagster's Python API, which could be reading SQLite by mistake.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dagster_graphql import DagsterGraphQLClient

from sector_forecast.defs.partitions import RANGE_END, RANGE_START

TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
ACTIVE = {"STARTING", "STARTED"}


def run_rows(pg, run_ids: list[str]) -> dict[str, tuple]:
    """run_id -> (job, status, start_time, end_time), as PostgreSQL's `runs` table holds them."""
    rows = pg.query(
        "dagster",
        "SELECT run_id, pipeline_name, status, start_time, end_time FROM runs WHERE run_id = ANY(%s)",
        (run_ids,),
    )
    return {row[0]: row[1:] for row in rows}


def failure_text(pg, run_id: str) -> str:
    """The run's last failure events, so a failed run reports why, not only that it failed."""
    rows = pg.query(
        "dagster",
        "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type IN "
        "('STEP_FAILURE', 'RUN_FAILURE', 'ENGINE_EVENT') ORDER BY id DESC LIMIT 3",
        (run_id,),
    )
    return "\n".join(str(r[0])[:1500] for r in rows)


def wait_for_runs(pg, run_ids: list[str], timeout: float, tails: Callable[[], str]) -> int:
    """Wait until every run is finished, polling PostgreSQL; return the most runs seen active at once.

    `tails` gives the services' recent logs for the message when the runs do not finish in time.
    """
    deadline, most_active = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        rows = run_rows(pg, run_ids)
        most_active = max(most_active, sum(1 for r in rows.values() if r[1] in ACTIVE))
        if len(rows) == len(run_ids) and all(r[1] in TERMINAL for r in rows.values()):
            failed = {rid: r[0] for rid, r in rows.items() if r[1] != "SUCCESS"}
            assert not failed, "runs failed: " + "\n".join(
                f"{job} {rid}:\n{failure_text(pg, rid)}" for rid, job in failed.items()
            )
            return most_active
        time.sleep(0.5)
    raise AssertionError(f"runs not finished after {timeout:.0f}s: {run_rows(pg, run_ids)}\n{tails()}")


def submit(client: DagsterGraphQLClient, job: str, window: tuple[str, str] | None) -> str:
    """Submit a stage job through GraphQL, a partition range as one run, exactly as `sector-forecast run` tags it.

    `window` None is for the unpartitioned stage (evaluation_job).
    """
    tags = {RANGE_START: window[0], RANGE_END: window[1]} if window else {}
    return client.submit_job_execution(job, repository_location_name="sector_forecast", tags=tags)
