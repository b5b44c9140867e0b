"""The project's `dagster.yaml` paces a real backfill daemon (`dagster_gaps.PacedRunCoordinator`).

A real `dagster dev` on a free port, its own `$DAGSTER_HOME` with the project's `dagster.yaml`, and a three-asset
code location whose backfill needs three runs (`a` → `b` → `c`, each with other partitions, so each waits for the
one before). The backfill is launched as the UI launches it (GraphQL `launchPartitionBackfill`). Dagster's
backfill daemon creates runs only at its iterations, which start on a fixed grid: at Dagster's pace (30 s)
consecutive runs are created 30 s (or a multiple) apart, whatever the work; at the project's (2 s) within 2 s
of the previous run's materialisation. The bound separates the two rhythms (it holds unless both tiny runs
take over 20 s from creation to their materialisation): not a speed figure, those are in `benchmarks/speed.py`.

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


def test_a_backfills_runs_are_created_off_dagsters_30_second_grid(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    (tmp_path / "two_runs.py").write_text(textwrap.dedent(CODE))
    (tmp_path / "workspace.yaml").write_text("load_from:\n  - python_file: two_runs.py\n")
    port, log = free_port(), tmp_path / "dev.log"
    base = f"http://127.0.0.1:{port}"
    cmd = [str(VENV_BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"]
    with background(cmd, log, env=isolated_env(DAGSTER_HOME=str(home)), cwd=tmp_path) as dev:
        wait_until(lambda: _loaded(base), "dagster dev's code location", 240, dev, log)
        parts = [{"assetKey": {"path": [k]}, "partitions": {"range": {"start": p, "end": p}}} for k, p in ("bx", "cy")]
        params = {"partitionsByAssets": [{"assetKey": {"path": ["a"]}}, *parts]}
        reply = _post(base, LAUNCH, {"params": params})["data"]["launchPartitionBackfill"]
        assert reply["__typename"] == "LaunchBackfillSuccess", reply

        with dg.DagsterInstance.from_config(str(home)) as instance:

            def all_done() -> bool:
                records = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
                return len(records) >= 3

            wait_until(all_done, "the backfill's three runs", 300, dev, log)
            records = instance.get_run_records(ascending=True)

    assert [sorted(k.to_user_string() for k in r.dagster_run.asset_selection or []) for r in records] == [
        ["a"], ["b"], ["c"]]  # fmt: skip
    created = [r.create_timestamp.timestamp() for r in records]
    gaps = [later - earlier for earlier, later in zip(created, created[1:], strict=False)]
    print("runs created " + ", ".join(f"{g:.1f} s" for g in gaps) + " apart")  # figures, not asserted
    assert min(gaps) < DAGSTER_PACE - 10, (
        f"runs created {gaps} s apart: the backfill daemon is on Dagster's 30 s grid again "
        f"(see defs/dagster_gaps.py)\n{log_tail(log)}"
    )
