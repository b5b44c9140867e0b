"""`dagster dev` for the benchmarks: the local StatBank server, the UI and its GraphQL, the prepared state each
repetition starts from, and what the instance recorded (runs, hops, materialisations, ticks, memory).

Used by `speed.py`'s live, backfill and dev parts.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import CLI, REPO, clean_env, cold_run, fresh_home, home_env, instance_at

from scripts.processes import VENV_BIN, background, free_port, graphql_over_http, wait_until
from scripts.ui_pages import location_loaded

QUIET_AFTER = 45.0  # s without runs after a change: longer than the slowest sensor interval (30 s) + a tick
LOADS: dict[str, list[float]] = {}  # 1-minute load average at each repetition's start, per part
GraphQL = Callable[[str, dict], dict]


def loaded(part: str) -> None:
    LOADS.setdefault(part, []).append(os.getloadavg()[0])


# ---- servers and the prepared state each repetition starts from ------------------------------------------------


@contextmanager
def statbank_server(snapshot: Path, logs: Path) -> Iterator[str]:
    """`sector-forecast statbank serve` over `snapshot` on a port the OS picks; yields its API URL (`.../v1`)."""
    log = logs / f"statbank-{time.time_ns()}.log"
    cmd = [CLI, "statbank", "serve", "--snapshot", str(snapshot), "--host", "127.0.0.1", "--port", "0"]

    def listening() -> re.Match | None:  # the server's first line, once it accepts connections
        return re.search(r"^listening on (\S+)", log.read_text(errors="replace"), re.MULTILINE)

    with background(cmd, log, clean_env()) as proc:
        wait_until(lambda: listening() is not None, "local StatBank server", 300, proc, log, poll=0.2)
        yield listening()[1]


@contextmanager
def ui(home: Path, url: str | None) -> Iterator[tuple[subprocess.Popen, GraphQL, float]]:
    """`dagster dev` on `home` until its code location is loaded: (process, its GraphQL, seconds to loaded)."""
    port, log = free_port(), home.parent / "dev.log"
    cmd = [str(VENV_BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml")]
    graphql = graphql_over_http(f"http://127.0.0.1:{port}/graphql")
    with background(cmd, log, home_env(home, url)) as proc:
        started = time.perf_counter()
        wait_until(lambda: location_loaded(lambda doc: graphql(doc, {})), "dagster dev", 300, proc, log, poll=0.2)
        yield proc, graphql, time.perf_counter() - started


@contextmanager
def settled_ui(home: Path, url: str) -> Iterator[tuple[GraphQL, object]]:
    """`ui` once it is idle past its sensors' first ticks, so they are not measured: (its GraphQL, the instance)."""
    with ui(home, url) as (_, graphql, _), instance_at(home) as instance:
        wait_quiet(instance, 10, 600, not_before=time.time() + 30)
        yield graphql, instance


def repetitions(part: str, repeat: int, trimmed: bool) -> Iterator[tuple[int, str, GraphQL, object]]:
    """Each repetition from one prepared state: (number, StatBank URL, `dagster dev`'s GraphQL, the instance).

    The state is a cold run and one settled `dagster dev` start, copied once and restored at the same path
    before each repetition (the MLflow store records absolute paths). `trimmed`: the snapshot served lacks
    KONK25's newest quarter-closing month, for the repetition to publish.
    """
    from scripts.trimmed_snapshot import SNAPSHOT, snapshot_without_last_quarter_month

    with fresh_home() as home:
        snapshot, prepared = home.parent / "snapshot", home.parent / "prepared"
        if trimmed:
            print(f"  new month: KONK25 {snapshot_without_last_quarter_month(snapshot)} (closes a quarter)")
        else:
            shutil.copytree(SNAPSHOT, snapshot)
        with statbank_server(snapshot, home.parent) as url:
            print(f"  setup: cold run {cold_run(home, url)[0]:.0f} s")
            with settled_ui(home, url):
                pass  # the sensors' first ticks, done once before the state is copied
        shutil.copytree(home, prepared)
        for i in range(repeat):
            shutil.rmtree(home)
            shutil.copytree(prepared, home)
            with statbank_server(snapshot, home.parent) as url, settled_ui(home, url) as (graphql, instance):
                loaded(part)
                yield i + 1, url, graphql, instance


# ---- what the instance recorded ------------------------------------------------------------------------------


def materialised_since(instance, since: float) -> list[tuple[float, str, str | None]]:
    """(timestamp, asset, partition) of every materialisation after `since`, oldest first."""
    import dagster as dg

    records = [r for key in instance.get_asset_keys() for r in instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_timestamp=float(since)), limit=10_000).records]
    return sorted((r.timestamp, r.asset_key.to_user_string(), r.partition_key) for r in records)


def wait_quiet(instance, quiet_for: float, timeout: float, not_before: float = 0.0) -> None:
    """Nothing queued or running and no backfill requested for `quiet_for` s (and not before `not_before`)."""
    import dagster as dg

    active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED]  # fmt: skip
    last, deadline = time.time(), time.time() + timeout
    while time.time() < deadline:
        if (instance.get_runs_count(dg.RunsFilter(statuses=active))
                or any(b.status.value == "REQUESTED" for b in instance.get_backfills(limit=20))):  # fmt: skip
            last = time.time()
        elif time.time() - last >= quiet_for and time.time() >= not_before:
            return
        time.sleep(1)
    raise TimeoutError(f"still busy after {timeout:.0f} s")


@dataclass(frozen=True)
class RunSpan:
    """One run, in seconds after t=0: created, started, ended (None while not); its assets and partitions."""

    created: float
    started: float | None
    ended: float | None
    assets: frozenset[str]
    partitions: str  # "[first..last]" of a range run, "[key]" or "[-]"


@functools.cache
def _asset_graph():
    """The code location's asset graph, resolved once per process (the runs' assets and their ancestors)."""
    from sector_forecast.defs.definitions import defs

    return defs.resolve_asset_graph()


@functools.cache
def job_assets(job: str) -> frozenset[str]:
    """The assets of one of the code location's jobs (a run launched by job has no asset selection of its own)."""
    from sector_forecast.defs.jobs import JOBS

    return frozenset(k.to_user_string() for j in JOBS if j.name == job for k in j.selection.resolve(_asset_graph()))


def runs_since(instance, since: float) -> list[RunSpan]:
    """Every run created after `since`, oldest first."""
    from datetime import UTC, datetime

    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(created_after=datetime.fromtimestamp(since, tz=UTC)),
                                       ascending=True)  # fmt: skip
    spans = []
    for record in records:
        run, stats = record.dagster_run, instance.get_run_stats(record.dagster_run.run_id)
        at = [t - since if t else None for t in (stats.start_time, stats.end_time)]
        span = [run.tags.get(f"dagster/asset_partition_range_{end}") for end in ("start", "end")]
        where = f"[{span[0]}..{span[1]}]" if span[0] else f"[{run.tags.get('dagster/partition', '-')}]"
        selected = frozenset(k.to_user_string() for k in (run.asset_selection or []))
        assets = selected or job_assets(run.job_name) or frozenset([run.job_name])
        spans.append(RunSpan(record.create_timestamp.timestamp() - since, *at, assets, where))
    return spans


@functools.cache
def ancestors_by_asset() -> dict[str, set[str]]:
    """Every asset of the code location and the assets upstream of it (the chain `path_breakdown` follows)."""
    graph = _asset_graph()
    return {key.to_user_string(): {a.to_user_string() for a in graph.get_ancestor_asset_keys(key)}
            for key in graph.get_all_asset_keys()}  # fmt: skip


def path_breakdown(
    runs: list[RunSpan], last: RunSpan, end: float, ancestors: dict[str, set[str]]
) -> tuple[int, dict[str, float]]:
    """Where the time to `end` (inside `last`) went along the chain of runs that led to `last`: (runs, parts).

    A run's predecessor is the run of an upstream asset that ended last before it was created (the run whose
    end let the sensor, the automation or the backfill daemon create it); runs beside the chain (a drift
    report beside the fits) are left out. The four parts add up to `end`: before the first run was created
    (the publication sensor's poll), the runs' starts (created -> started: queue and worker process), between
    runs (a run's end -> the next one's creation: ticks and daemon iterations) and the runs' own work.
    """
    chain = [last]

    def feeds(run: RunSpan, into: RunSpan) -> bool:
        return run.ended is not None and run.ended <= into.created and any(
            run.assets & ancestors.get(asset, set()) for asset in into.assets)

    while before := [r for r in runs if feeds(r, chain[-1])]:
        chain.append(max(before, key=lambda r: r.ended))
    chain.reverse()
    return len(chain), {
        "before the first run": chain[0].created,
        "starting runs": sum(r.started - r.created for r in chain),
        "between runs": sum(b.created - a.ended for a, b in itertools.pairwise(chain)),
        "work": sum(r.ended - r.started for r in chain[:-1]) + end - chain[-1].started,
    }


def report_path(runs: list[RunSpan], asset: str, at: float) -> dict[str, float]:
    """Print and return `path_breakdown` to `asset`'s materialisation at `at` (s after t=0); {} if no run holds it."""
    last = next((r for r in runs if asset in r.assets and r.started is not None and r.started <= at
                 and (r.ended is None or at <= r.ended)), None)  # fmt: skip
    if last is None:
        return {}
    n, parts = path_breakdown(runs, last, at, ancestors_by_asset())
    print(f"    path to {asset} ({n} runs): {' + '.join(f'{v:.1f} s {k}' for k, v in parts.items())}"
          f" = {sum(parts.values()):.1f} s")
    return parts


def report_runs(instance, since: float) -> tuple[int, list[RunSpan], list[tuple[float, str, str | None]]]:
    """Print each run after `since` (created / started / ended, s after it): the per-hop breakdown.

    Returns (partitions materialised more than once, the runs, `materialised_since(instance, since)`)."""
    runs = runs_since(instance, since)
    print(f"    {len(runs)} runs (created / started / ended, s after t=0; work = ended - started):")
    for run in runs:
        shown = " / ".join(f"{t:6.1f}" if t is not None else "     -" for t in (run.created, run.started, run.ended))
        print(f"      {shown}  {','.join(sorted(run.assets))[:60]}{run.partitions}")
    materialised = materialised_since(instance, since)
    counts = Counter(f"{a}[{p}]" if p else a for _, a, p in materialised)
    repeated = {k: n for k, n in sorted(counts.items()) if n > 1}
    print(f"    partitions materialised more than once: {len(repeated)} {list(repeated.items())[:12] or ''}")
    return len(repeated), runs, materialised


TICKS = """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  ... on Sensor { sensorState { ticks(limit: 200) { timestamp endTimestamp } } } } }"""


def report_ticks(graphql: GraphQL, since: float) -> None:
    """The automation sensor's rhythm after `since`: seconds between tick starts, and each tick's evaluation."""
    from sector_forecast.defs.automation import AUTOMATION_SENSOR_NAME

    selector = {"repositoryLocationName": "sector_forecast", "repositoryName": "__repository__",
                "sensorName": AUTOMATION_SENSOR_NAME}
    reply = graphql(TICKS, {"selector": selector})["sensorOrError"]
    ticks = sorted((t["timestamp"], t["endTimestamp"]) for t in reply["sensorState"]["ticks"]
                   if t["timestamp"] >= since)
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(ticks)]
    spans = [end - start for start, end in ticks if end]
    if gaps and spans:
        print(f"    automation ticks: {len(ticks)}, every {statistics.median(gaps):.1f} s (median; "
              f"{min(gaps):.1f}-{max(gaps):.1f}), each evaluated in {statistics.median(spans):.2f} s (median; "
              f"max {max(spans):.2f})")


EVALUATIONS = """query($key: AssetKeyInput!) { assetConditionEvaluationRecordsOrError(assetKey: $key, limit: 100) {
  ... on AssetConditionEvaluationRecords { records { timestamp
    evaluationNodes { uniqueId userLabel numTrue numCandidates childUniqueIds } } } } }"""


def report_held_back(graphql: GraphQL, since: float) -> int:
    """Ticks after `since` at which the automation held an asset back because its own run had just ended
    (`automation._own_run_just_ended`); each would have built those partitions a second time. Read from the
    automation's evaluation records: the candidates that the guard's `Not` node did not let through.
    """
    graph = _asset_graph()
    held: list[str] = []
    for key in sorted(k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None):
        reply = graphql(EVALUATIONS, {"key": {"path": key.path}})["assetConditionEvaluationRecordsOrError"]
        for record in (r for r in reply.get("records", []) if r["timestamp"] >= since):
            guards = {n["uniqueId"] for n in record["evaluationNodes"] if n["userLabel"] == "own_run_just_ended"}
            for node in (n for n in record["evaluationNodes"] if guards & set(n["childUniqueIds"])):
                if (n := (node["numCandidates"] or 0) - node["numTrue"]) > 0:
                    held.append(f"{key.to_user_string()} x{n} at {record['timestamp'] - since:.1f} s")
    print(f"    held back at the tick their own run ended (else built twice): {len(held)} {held or ''}")
    return len(held)


def rss_of_group(pgid: int) -> int:
    """Resident memory (bytes) of every live process in a process group, from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:  # state, ppid, pgrp, ...
                status = (stat.parent / "status").read_text().splitlines()
                total += next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:")), 0)
        except (OSError, IndexError, ValueError):
            continue
    return total
