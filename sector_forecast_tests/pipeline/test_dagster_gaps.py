"""What `sector_forecast.defs.dagster_gaps` assumes of Dagster, checked so an upgrade that changes it fails here.

The behaviour itself (one contract evaluation per partition of a single-run backfill, linked to that
partition's materialisation, and downstream steps waiting for the check) is tested end to end in
`test_pipeline_metadata.py` and `test_pipeline_graph.py`; these tests say *which* assumption broke.
"""

import inspect
import sqlite3
from pathlib import Path

import dagster as dg
import yaml

from sector_forecast.defs import dagster_gaps

REPO = Path(__file__).resolve().parents[2]


def test_asset_check_result_still_has_no_partition() -> None:
    # The whole module exists because of this; once Dagster adds it, report with AssetCheckResult(partition=...)
    # and delete dagster_gaps.py.
    params = inspect.signature(dg.AssetCheckResult).parameters
    assert "partition" not in params, "AssetCheckResult takes a partition now: use it and delete defs/dagster_gaps.py"


def test_the_public_evaluation_carries_partition_target_and_blocking() -> None:
    params = inspect.signature(dg.AssetCheckEvaluation).parameters
    assert {"partition", "target_materialization_data", "blocking", "severity"} <= set(params)


def test_the_target_type_builds_from_a_materialisation_record() -> None:
    target = dagster_gaps.TargetMaterialization(storage_id=7, run_id="r", timestamp=1.5)
    evaluation = dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("a"), check_name="contract", passed=True, target_materialization_data=target,
        partition="2024-01-01",
    )
    assert evaluation.target_materialization_data.storage_id == 7 and evaluation.partition == "2024-01-01"


def test_a_selected_check_has_an_output_name_on_its_asset() -> None:
    @dg.asset(check_specs=[dg.AssetCheckSpec("contract", asset="a", blocking=True)])
    def a():  # no return annotation: Dagster reads `None` as a single output, but the check adds one
        return None

    key = dg.AssetCheckKey(dg.AssetKey("a"), "contract")
    assert a.get_output_name_for_asset_check_key(key) in a.op.outs


# ---- the backfill daemon's pace (`PacedRunCoordinator`) -------------------------------------------------------


def test_the_backfill_loop_still_reads_its_interval_from_the_controller_at_loop_start() -> None:
    from dagster._daemon import controller

    assert hasattr(controller, dagster_gaps.PACE_NAME), (
        f"dagster {dg.__version__} moved {dagster_gaps.PACE_NAME} out of dagster._daemon.controller: "
        "the backfill daemon is back at Dagster's own pace; find the new lever or drop PacedRunCoordinator"
    )
    assert dagster_gaps.pace_reaches_backfill_loop(), (
        f"dagster {dg.__version__}'s execute_backfill_iteration_loop no longer imports {dagster_gaps.PACE_NAME} "
        "when its loop starts: setting it no longer paces the backfill daemon (defs/dagster_gaps.py)"
    )


def test_the_projects_instance_configs_name_the_paced_coordinator_and_it_sets_the_pace(tmp_path: Path) -> None:
    from dagster._daemon import controller

    for config in (REPO / "dagster.yaml", REPO / "deploy" / "dagster.postgres.yaml"):
        run_coordinator = yaml.safe_load(config.read_text())["run_coordinator"]
        assert (run_coordinator["module"], run_coordinator["class"]) == (
            "sector_forecast.defs.dagster_gaps", "PacedRunCoordinator"), config  # fmt: skip
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    before = controller.DEFAULT_DAEMON_INTERVAL_SECONDS
    try:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            coordinator = instance.run_coordinator
            assert isinstance(coordinator, dagster_gaps.PacedRunCoordinator)
            assert coordinator.dequeue_interval_seconds == 1  # Dagster's own settings still apply
            configured = yaml.safe_load((tmp_path / "dagster.yaml").read_text())["run_coordinator"]["config"]
            assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == configured["backfill_interval_seconds"] == 2
            # the daemon builds its daemons from the instance after the coordinator: the pace is set by then
            assert "BACKFILL" in instance.get_required_daemon_types()
    finally:
        controller.DEFAULT_DAEMON_INTERVAL_SECONDS = before


# ---- SQLite commits (`fewer_fsyncs_on_wal_sqlite`) -------------------------------------------------------------


def test_dagsters_sqlite_storages_are_in_wal_mode(tmp_path: Path) -> None:
    # synchronous=NORMAL is only safe from corruption in WAL mode; the listener leaves other files alone.
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        instance.get_runs_count()
    files = [tmp_path / "history" / "runs.db", tmp_path / "history" / "runs" / "index.db"]
    modes = {f.name: sqlite3.connect(f).execute("PRAGMA journal_mode").fetchone()[0] for f in files}
    assert modes == {"runs.db": "wal", "index.db": "wal"}, f"dagster {dg.__version__}'s SQLite journals: {modes}"


def test_only_wal_connections_skip_the_fsync_per_commit(tmp_path: Path) -> None:
    import sqlalchemy

    dagster_gaps.fewer_fsyncs_on_wal_sqlite()  # installed on import; a second call adds nothing
    wal, rollback = tmp_path / "wal.db", tmp_path / "rollback.db"
    sqlite3.connect(wal).execute("PRAGMA journal_mode=WAL").close()
    sqlite3.connect(rollback).execute("CREATE TABLE t (x)").close()
    synchronous = {}
    for path in (wal, rollback):
        engine = sqlalchemy.create_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            synchronous[path.name] = conn.execute(sqlalchemy.text("PRAGMA synchronous")).scalar()
        engine.dispose()
    assert synchronous == {"wal.db": 1, "rollback.db": 2}  # NORMAL in WAL mode; FULL, SQLite's default, otherwise
