"""The one place that relies on Dagster beyond its public API: per-partition check results in a range run,
the backfill daemon's pace, and what a commit to Dagster's SQLite storage costs.

What is missing (dagster 1.13.27): `AssetCheckResult` has no partition. In a run of several partitions (a
single-run backfill) Dagster turns it into one evaluation with `partition=None`, while it planned one
evaluation per partition of the run; those stay "planned" for ever. The public `dg.AssetCheckEvaluation`
carries a `partition` and an asset may yield it, but two things `AssetCheckResult` does for us are then
left to the caller:

1. the check's step output (`Output(None)` under the check's output name), which the steps behind a
   blocking check wait for; `assets_def.get_output_name_for_asset_check_key` names it;
2. the link from an evaluation to the materialisation it judged (`target_materialization_data`), whose
   type `dagster` does not export.

`sector_forecast_tests/pipeline/test_dagster_gaps.py` fails on an upgrade that changes either, or that gives
`AssetCheckResult` a partition (then report with it and delete this module).

The backfill daemon (dagster 1.13.27) sleeps `dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS`
(30 s, no dagster.yaml setting: dagster-io/dagster#11649) between iterations; `execute_backfill_iteration_loop`
imports the name when its loop starts, so every run of a backfill after the first waits up to 30 s while our
runs do 0.3–11 s of work. `PacedRunCoordinator` is Dagster's `QueuedRunCoordinator` with one more setting,
`backfill_interval_seconds`: the daemon process builds its run coordinator before it starts the daemon
threads (`get_required_daemon_types` reads `instance.run_coordinator`), so setting the name there reaches the
backfill loop. Named in `dagster.yaml` and `deploy/dagster.postgres.yaml`; `test_dagster_gaps.py` fails when an
upgrade renames it or stops reading it at loop start, and `test_backfill_pace.py` watches a real daemon.

Dagster's SQLite storages (the default instance: runs, event log per run and its index) run in WAL mode at
SQLite's default `synchronous=FULL`: every event is its own transaction and each waits for an fsync (3 ms
here; a cold run writes ~3,500 events, several commits each). `synchronous=NORMAL` is SQLite's recommended
setting for WAL: a committed transaction survives a killed process (the reliability tests kill runs), only an
OS crash or power loss can roll back the last commits, never corrupt the file. `fewer_fsyncs_on_wal_sqlite`
sets it on every SQLite connection in WAL mode that SQLAlchemy (Dagster's and MLflow's storage layer) opens in
this process; this module installs it when imported (the code location's checks and the instance's run
coordinator import it). PostgreSQL deployments are untouched.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

# Not exported by `dagster` 1.13: the type of `AssetCheckEvaluation.target_materialization_data`.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as TargetMaterialization,
)


def check_step_output(context: dg.AssetExecutionContext, check_key: dg.AssetCheckKey) -> Iterator[dg.Output]:
    """What `AssetCheckResult` yields for a selected check besides its evaluation: the step output."""
    if check_key in context.selected_asset_check_keys:
        yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))


def run_materializations(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, TargetMaterialization]:
    """This run's materialisation of each partition in `keys`, as an evaluation's target."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=max(len(keys), 1)
    ).records
    out: dict[str, TargetMaterialization] = {}
    for record in records:
        key = record.partition_key
        if record.run_id == context.run.run_id and key is not None and key not in out:
            out[key] = TargetMaterialization(storage_id=record.storage_id, run_id=record.run_id,
                                             timestamp=record.timestamp)
    return out


# ---- the backfill daemon's pace ------------------------------------------------------------------------------

PACE_NAME = "DEFAULT_DAEMON_INTERVAL_SECONDS"
BACKFILL_INTERVAL_SECONDS = 2  # one cheap query per iteration while no backfill is requested


def pace_reaches_backfill_loop() -> bool:
    """Whether the backfill loop still reads the controller's interval when it starts (the lever works)."""
    from dagster._daemon import backfill as backfill_daemon  # the daemon's modules: only where they run
    from dagster._daemon import controller as daemon_controller

    source = inspect.getsource(backfill_daemon.execute_backfill_iteration_loop)
    return hasattr(daemon_controller, PACE_NAME) and f"import {PACE_NAME}" in source


def pace_backfill_daemon(seconds: float) -> None:
    """Set the backfill daemon's sleep between iterations in this process (before its loop starts)."""
    from dagster._daemon import controller as daemon_controller

    if not pace_reaches_backfill_loop():  # a warning, not a crash: the daemon still works at Dagster's pace
        logging.getLogger(__name__).warning(
            "dagster %s no longer paces the backfill daemon by %s.%s: backfills keep Dagster's default interval",
            dg.__version__, daemon_controller.__name__, PACE_NAME)  # fmt: skip
        return
    setattr(daemon_controller, PACE_NAME, seconds)


class PacedRunCoordinator(dg.QueuedRunCoordinator):
    """Dagster's queued run coordinator plus `backfill_interval_seconds` (default 2), applied in the daemon.

    Every process that loads the instance sets it; only the daemon's backfill loop reads it.
    """

    @classmethod
    def config_type(cls) -> dict:
        return {**super().config_type(), "backfill_interval_seconds": dg.Field(
            dg.IntSource, is_required=False, default_value=BACKFILL_INTERVAL_SECONDS,
            description="Seconds the backfill daemon sleeps between iterations (Dagster: 30).")}  # fmt: skip

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Mapping[str, Any]) -> PacedRunCoordinator:
        config = dict(config_value)
        seconds = config.pop("backfill_interval_seconds", BACKFILL_INTERVAL_SECONDS)
        pace_backfill_daemon(seconds)
        return super().from_config_value(inst_data, config)


# ---- SQLite commits ------------------------------------------------------------------------------------------


def _normal_sync_on_wal(dbapi_connection: object, _record: object) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def fewer_fsyncs_on_wal_sqlite() -> None:
    """`synchronous=NORMAL` on every new SQLAlchemy connection to an SQLite file in WAL mode (idempotent)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _normal_sync_on_wal):
        event.listen(Engine, "connect", _normal_sync_on_wal)


fewer_fsyncs_on_wal_sqlite()
