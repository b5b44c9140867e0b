"""The project's `dagster.yaml` paces a real backfill daemon (`dagster_gaps.PacedRunCoordinator`).

A real `dagster dev` on a free port, its own `$DAGSTER_HOME` with the project's `dagster.yaml`, and a three-asset
code location whose backfill needs three runs (`a` → `b` → `c`, each with other partitions, so each waits for the
one before). The backfill is launched as the UI launches it (GraphQL `launchPartitionBackfill`). Dagster's
backfill daemon creates runs only at its iterations, which start on a fixed grid: at Dagster's pace (30 s)
consecutive runs are created 30 s (or a multiple) apart, whatever the work; at the project's (2 s) within 2 s
of the previous run's materialisation. The bound separates the two rhythms (it holds unless both tiny runs
take over 20 s from creation to their materialisation): not a speed figure, those are in `benchmarks/speed.py`.
A second code location has two runs ready at once (`b` and `d` each wait only for `a`): with the project's two
run slots and no limit on backfill runs, they run side by side, as a UI backfill's monitoring beside its
evaluation does (docs/deployment.md).

It lives with the deployment tests, not in `pipeline/`: under `faketime` (`.ci/run`'s dated runs of
`pipeline/`, `automation/`, `monitoring/`) the daemon's pace was not what this measures (seen once, 2026-12-06,
cause not yet investigated); the pipeline's date behaviour is what those runs check.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import dagster as dg
import requests

from scripts.processes import REPO, VENV_BIN, background, free_port, log_tail, wait_until
from sector_forecast_tests.deploy.services import isolated_env

CODE = """
import dagster as dg

@dg.asset
def a() -> None: ...

@dg.asset(deps=[a], partitions_def=dg.StaticPartitionsDefinition(["x"]))
def b() -> None: ...

@dg.asset(deps=[dg.AssetDep(b, partition_mapping=dg.StaticPartitionMapping({"x": "y"}))],
          partitions_def=dg.StaticPartitionsDefinition(["y"]))
def c() -> None: ...

defs = dg.Definitions(assets=[a, b, c])
"""
# `b` and `d` on different partitions definitions: two runs, each ready once `a` is done; each sleeps long enough
# (3 s) that two runs started together overlap whatever the machine's start-up times.
SIDE_BY_SIDE = """
import time
import dagster as dg

@dg.asset
def a() -> None: ...

@dg.asset(deps=[a], partitions_def=dg.StaticPartitionsDefinition(["x"]))
def b() -> None:
    time.sleep(3)

@dg.asset(deps=[a], partitions_def=dg.StaticPartitionsDefinition(["z"]))
def d() -> None:
    time.sleep(3)

defs = dg.Definitions(assets=[a, b, d])
"""
LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
DAGSTER_PACE = 30.0  # DEFAULT_DAEMON_INTERVAL_SECONDS in dagster 1.13


def _post(base: str, query: str, variables: dict | None = None) -> dict:
    return requests.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30).json()


def _loaded(base: str) -> bool:
    try:
        entries = _post(base, LOADED)["data"]["workspaceOrError"]["locationEntries"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    return any((e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries)


def _backfill_runs(tmp_path: Path, code: str, partitions: list[tuple[str, str]]) -> tuple[list, Path]:
    """Launch a backfill of `a` and each (asset, partition) as the UI does, under the project's `dagster.yaml` in
    a real `dagster dev`; wait for its three runs to succeed. Returns the run records (oldest first) and the log."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    (tmp_path / "backfill_assets.py").write_text(textwrap.dedent(code))
    (tmp_path / "workspace.yaml").write_text("load_from:\n  - python_file: backfill_assets.py\n")
    port, log = free_port(), tmp_path / "dev.log"
    base = f"http://127.0.0.1:{port}"
    cmd = [str(VENV_BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    with background(cmd, log, env=isolated_env(DAGSTER_HOME=str(home)), cwd=tmp_path) as dev:
        wait_until(lambda: _loaded(base), "dagster dev's code location", 240, dev, log)
        parts = [{"assetKey": {"path": [k]}, "partitions": {"range": {"start": p, "end": p}}} for k, p in partitions]
        params = {"partitionsByAssets": [{"assetKey": {"path": ["a"]}}, *parts]}
        reply = _post(base, LAUNCH, {"params": params})["data"]["launchPartitionBackfill"]
        assert reply["__typename"] == "LaunchBackfillSuccess", reply

        with dg.DagsterInstance.from_config(str(home)) as instance:

            def all_done() -> bool:
                records = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
                return len(records) >= 3

            wait_until(all_done, "the backfill's three runs", 300, dev, log)
            return instance.get_run_records(ascending=True), log


def test_a_backfills_runs_are_created_off_dagsters_30_second_grid(tmp_path: Path) -> None:
    records, log = _backfill_runs(tmp_path, CODE, [("b", "x"), ("c", "y")])
    assert [sorted(k.to_user_string() for k in r.dagster_run.asset_selection or []) for r in records] == [
        ["a"], ["b"], ["c"]]  # fmt: skip
    created = [r.create_timestamp.timestamp() for r in records]
    gaps = [later - earlier for earlier, later in zip(created, created[1:], strict=False)]
    print("runs created " + ", ".join(f"{g:.1f} s" for g in gaps) + " apart")  # figures, not asserted
    assert min(gaps) < DAGSTER_PACE - 10, (
        f"runs created {gaps} s apart: the backfill daemon is on Dagster's 30 s grid again "
        f"(see defs/dagster_gaps.py)\n{log_tail(log)}"
    )


def test_a_backfills_independent_runs_use_both_run_slots(tmp_path: Path) -> None:
    records, log = _backfill_runs(tmp_path, SIDE_BY_SIDE, [("b", "x"), ("d", "z")])
    by_asset = {",".join(k.to_user_string() for k in r.dagster_run.asset_selection or []): r for r in records}
    assert sorted(by_asset) == ["a", "b", "d"], sorted(by_asset)
    # Start and end as the run records have them: `b` and `d` each sleep 3 s, so started together they overlap.
    (b0, b1), (d0, d1) = ((by_asset[k].start_time, by_asset[k].end_time) for k in ("b", "d"))
    assert max(b0, d0) < min(b1, d1), (
        f"b ran {b0:.1f}..{b1:.1f}, d {d0:.1f}..{d1:.1f}: a backfill's runs were held to one at a time "
        f"(a tag concurrency limit on dagster/backfill in dagster.yaml?)\n{log_tail(log)}"
    )
