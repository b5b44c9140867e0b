"""Fixtures for the automation tests: a local StatBank server per module, sensor ticks, in-process runs.

The flow tests start from a copy of the session's `materialised_graph` (event log, parquet store, MLflow
store), so automation sees a fully materialised graph without re-running the two-minute pipeline; the copy
lives in the module's tmp dir and talks to the module's own server, which the tests publish to and revise.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from sector_forecast.defs.freshness import FRESHNESS_CHECKS
from sector_forecast.defs.partitions import RANGE_END, RANGE_START
from sector_forecast.defs.sensors.publication import statbank_publication_sensor
from sector_forecast.domain.releases import contiguous_ranges
from sector_forecast_tests.conftest import GraphEnv, copy_graph
from sector_forecast_tests.statbank_server import SNAPSHOT, ServerHandle, running_statbank_server


@pytest.fixture(scope="module")
def statbank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """This module's own local StatBank server (publish/revise/close here never leak into other tests)."""
    with running_statbank_server(SNAPSHOT, tmp_path_factory.mktemp("automation_statbank"), faults=True) as server:
        yield server


def with_freshness_checks(defs: dg.Definitions) -> dg.Definitions:
    """The real Definitions plus the freshness/closure checks, unless definitions.py already wires them."""
    present = defs.resolve_asset_graph().asset_check_keys
    if all(spec.key in present for checks in FRESHNESS_CHECKS for spec in checks.check_specs):
        return defs
    return dg.Definitions.merge(defs, dg.Definitions(asset_checks=FRESHNESS_CHECKS))


def clone_graph(source: GraphEnv, root: Path, url: str) -> GraphEnv:
    """A writable copy of a materialised graph (instance, store, MLflow) pointed at another server."""
    env = copy_graph(source.root, root, url)
    env.defs = with_freshness_checks(env.defs)
    return env


def sensor_tick(env: GraphEnv, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    """One evaluation of the publication sensor with the resources of `env.defs`."""
    with dg.build_sensor_context(
        instance=env.instance, cursor=cursor, resources={"statbank": env.defs.resources["statbank"]}
    ) as context:
        return statbank_publication_sensor(context)


def schedule_tick(env: GraphEnv, schedule: dg.ScheduleDefinition) -> list[dg.RunRequest] | dg.SkipReason:
    """One evaluation of a safety-net schedule at its 10 November 2026 09:00 UTC execution time."""
    with dg.build_schedule_context(
        instance=env.instance, scheduled_execution_time=datetime(2026, 11, 10, 9, tzinfo=UTC),
        resources={"statbank": env.defs.resources["statbank"]},
    ) as context:
        return schedule(context)


def execute_request(env: GraphEnv, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Run a sensor's run request in-process, as the daemon would launch it."""
    job = env.defs.resolve_job_def(request.job_name)
    result = job.execute_in_process(
        instance=env.instance, partition_key=request.partition_key, tags=dict(request.tags),
        raise_on_error=False,
    )
    assert result.success, request
    return result


def requested(env: GraphEnv, result) -> dict[str, set[str | None]]:
    """Asset name -> partition keys requested by one automation evaluation (assets with none left out)."""
    out: dict[str, set[str | None]] = {}
    for key in env.defs.resolve_asset_graph().get_all_asset_keys():
        partitions = result.get_requested_partitions(key)
        if partitions:
            out[key.to_user_string()] = set(partitions)
    return out


def execute_requested(env: GraphEnv, wanted: dict[str, set[str | None]]) -> list[str]:
    """Execute what automation requested, in dependency order: one run per stage and block of neighbours.

    Assets with the same partitions definition and the same requested keys share a run, as in the
    single-run backfill the automation sensor emits. Returns one line per run (`assets keys`).
    """
    graph = env.defs.resolve_asset_graph()
    job = env.defs.resolve_implicit_global_asset_job_def()
    stages: list[tuple[list[dg.AssetKey], object, list[str]]] = []
    for key in graph.toposorted_asset_keys:
        keys = sorted(k for k in wanted.get(key.to_user_string(), set()) if k is not None)
        if not keys and None not in wanted.get(key.to_user_string(), set()):
            continue
        partitions_def = graph.get(key).partitions_def
        if stages and stages[-1][1] == partitions_def and stages[-1][2] == keys:
            stages[-1][0].append(key)
        else:
            stages.append(([key], partitions_def, keys))
    runs = []
    for assets, partitions_def, keys in stages:
        blocks = contiguous_ranges(keys, partitions_def.get_partition_keys()) if partitions_def else [None]
        for block in blocks:
            tags = {RANGE_START: block[0], RANGE_END: block[1]} if block else {}
            result = job.execute_in_process(
                instance=env.instance, asset_selection=assets, tags=tags, raise_on_error=False
            )
            names = ",".join(a.to_user_string() for a in assets)
            assert result.success, (names, block)
            runs.append(f"{names} {block[0] + '..' + block[1] if block else '-'}")
    return runs
