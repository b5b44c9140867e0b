"""Every speed figure in one command, each beside its target, as medians of N repetitions, with the load.

    .venv/bin/python benchmarks/speed.py [--repeat 3] [--only cold live backfill dev] [--suite] [--instance-yaml Y]

Parts (benchmarks/README.md has what each prints): cold (`sector-forecast run` into an empty home, and its
ratio to the same domain work as plain calls in a fresh process, `--direct`, alternated under the same load),
live (a KONK25 quarter-closing month published under `dagster dev`), backfill (two quarters launched through
GraphQL as the UI does), dev (`dagster dev`'s start and memory), --suite (the whole pytest suite once).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import _common  # first: puts the repository on sys.path
import requests
from _common import CLI, REPO, clean_env, cold_run, fresh_home, home_env, instance_at, instance_home, machine

from scripts.processes import VENV_BIN, background, free_port, graphql_over_http, wait_until
from scripts.ui_pages import location_loaded

PARTS = ["cold", "live", "backfill", "dev"]
TARGETS = {  # key: (label, limit, unit); a limit of 0 means "none at all"
    "cold": ("cold: `sector-forecast run`", 45, "s"),
    "ratio": ("cold: orchestration ratio (run / direct calls)", 1.5, "x"),
    "live": ("live: publication -> fresh forecasts + drift_report", 30, "s"),
    "live_repeated": ("live: partitions materialised more than once", 0, ""),
    "backfill": ("backfill: 2 quarters of quarterly_panel+downstream", 60, "s"),
    "backfill_repeated": ("backfill: partitions materialised more than once", 0, ""),
    "dev_rss": ("dev: `dagster dev` process tree RSS", 700, "MiB"),
    "worker_start": ("dev: run worker created -> started (live runs)", 3, "s"),
    "suite": ("suite: pytest wall time", 480, "s"),
}
STAGE_LINE = re.compile(r"^\s+(\w+_job)\s+(\S+)\s+(ok|FAILED)\s+([\d.]+)s", re.MULTILINE)
QUIET_AFTER = 45.0  # s without runs after a change: longer than the slowest sensor interval (30 s) + a tick
LOADS: dict[str, list[float]] = {}  # 1-minute load average at each repetition's start, per part
GraphQL = Callable[[str, dict], dict]


def loaded(part: str) -> None:
    LOADS.setdefault(part, []).append(os.getloadavg()[0])


def load() -> str:
    return "load " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.0f} MiB"


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


def report_runs(instance, since: float) -> tuple[int, list[float]]:
    """Print each run after `since` (created / started / ended, s after it): the per-hop breakdown.

    Returns (partitions materialised more than once, each run's created -> started)."""
    from datetime import UTC, datetime

    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(created_after=datetime.fromtimestamp(since, tz=UTC)),
                                       ascending=True)  # fmt: skip
    print(f"    {len(records)} runs (created / started / ended, s after t=0; work = ended - started):")
    workers = []
    for record in records:
        run, stats = record.dagster_run, instance.get_run_stats(record.dagster_run.run_id)
        created = record.create_timestamp.timestamp()
        workers += [stats.start_time - created] if stats.start_time else []
        span = [run.tags.get(f"dagster/asset_partition_range_{end}") for end in ("start", "end")]
        where = f"[{span[0]}..{span[1]}]" if span[0] else f"[{run.tags.get('dagster/partition', '-')}]"
        shown = " / ".join(f"{t - since:6.1f}" if t else "     -" for t in (created, stats.start_time, stats.end_time))
        assets = ",".join(sorted(k.to_user_string() for k in (run.asset_selection or []))) or run.job_name
        print(f"      {shown}  {assets[:60]}{where}")
    counts = Counter(f"{a}[{p}]" if p else a for _, a, p in materialised_since(instance, since))
    repeated = {k: n for k, n in sorted(counts.items()) if n > 1}
    print(f"    partitions materialised more than once: {len(repeated)} {list(repeated.items())[:12] or ''}")
    return len(repeated), workers



# ---- the parts ------------------------------------------------------------------------------------------------


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold(repeat: int) -> dict[str, list[float]]:
    """Cold runs and the direct calls, alternated so both see the same load."""
    out: dict[str, list[float]] = {"cold": [], "ratio": []}
    for i in range(repeat):
        loaded("cold")
        with fresh_home() as home:
            wall, peak, output, cpu = cold_run(home)
            if i == 0:
                with instance_at(home) as instance:
                    parts = Counter(a for _, a, _ in materialised_since(instance, 0))
                    runs = instance.get_runs_count()
        started, used = time.perf_counter(), _children_cpu()
        reply = subprocess.run([sys.executable, __file__, "--direct"], env=clean_env(), cwd=REPO,
                               capture_output=True, text=True, check=True)  # fmt: skip
        direct, direct_cpu = time.perf_counter() - started, _children_cpu() - used
        steps = json.loads(reply.stdout.strip().splitlines()[-1])
        print(f"  cold run {i + 1}: {wall:.1f} s, peak RSS {mib(peak)}; direct calls {direct:.1f} s; "
              f"ratio {wall / direct:.2f}x; {load()}")  # fmt: skip
        # The run spreads its fits and raw tables over worker processes, the direct calls use one process: the
        # wall ratio is what a user waits, the CPU ratio what the orchestration costs on top of the work.
        print(f"    CPU seconds (user + system): run {cpu:.1f}, direct {direct_cpu:.1f}, ratio {cpu / direct_cpu:.2f}x")
        stages = STAGE_LINE.findall(output)
        print("    stages: " + ", ".join(f"{job} {span} {float(sec):.1f} s" for job, span, _, sec in stages))
        print("    direct: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
        out["cold"].append(wall)
        out["ratio"].append(wall / direct)
    print(f"  runs: {runs}; materialised partitions: {sum(parts.values())} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(parts.items()))})")  # fmt: skip
    return out


def live(repeat: int) -> dict[str, list[float]]:
    """Publish the quarter-closing KONK25 month under `dagster dev`; time until fresh forecasts and drift_report."""
    out: dict[str, list[float]] = {"live": [], "live_repeated": [], "worker_start": []}
    for n, url, graphql, instance in repetitions("live", repeat, trimmed=True):
        since = time.time()
        published = requests.post(url.removesuffix("/v1") + "/admin/publish", json={"table": "KONK25"}, timeout=30)
        published.raise_for_status()  # the server's seeded generator makes the month's numbers
        first: dict[str, float] = {}
        while not {"forecasts", "drift_report"} <= set(first) and time.time() - since < 1200:
            for ts, asset, _ in materialised_since(instance, since):
                first.setdefault(asset, ts - since)
            time.sleep(1)
        wait_quiet(instance, QUIET_AFTER, 900)
        fresh = ", ".join(f"{a} {first.get(a, float('inf')):.1f} s" for a in ("forecasts", "drift_report"))
        print(f"  live run {n}: fresh {fresh} after publication; {load()}")
        repeated, workers = report_runs(instance, since)
        report_ticks(graphql, since)
        out["live"].append(max(first.get(a, float("inf")) for a in ("forecasts", "drift_report")))
        out["live_repeated"].append(repeated)
        out["worker_start"] += [statistics.median(workers)] if workers else []
    return out


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


LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
STATUS = "query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }"


def backfill(repeat: int) -> dict[str, list[float]]:
    """The UI's backfill of the last two published quarters of quarterly_panel and everything downstream."""
    import dagster as dg

    from sector_forecast.defs.definitions import defs

    below = dg.AssetSelection.assets("quarterly_panel").downstream().resolve(defs.resolve_asset_graph())
    assets = sorted(k.to_user_string() for k in below)
    out: dict[str, list[float]] = {"backfill": [], "backfill_repeated": []}
    for n, _, graphql, instance in repetitions("backfill", repeat, trimmed=False):
        quarters = sorted(instance.get_materialized_partitions(dg.AssetKey("quarterly_panel")))[-2:]
        if n == 1:
            print(f"  quarters {quarters[0]}..{quarters[1]} of {len(assets)} assets")
        since = time.time()
        params = {"assetSelection": [{"path": [a]} for a in assets], "partitionNames": quarters}
        reply = graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        if reply["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"launchPartitionBackfill: {reply}")
        status = "REQUESTED"
        while status in ("REQUESTED", "CANCELING", "FAILING") and time.time() - since < 1200:
            time.sleep(1)
            status = graphql(STATUS, {"id": reply["backfillId"]})["partitionBackfillOrError"]["status"]
        done = time.time() - since
        wait_quiet(instance, QUIET_AFTER, 900)
        print(f"  backfill run {n}: {status} after {done:.1f} s; {load()}")
        out["backfill"].append(done if status.startswith("COMPLETED") else float("inf"))
        out["backfill_repeated"].append(report_runs(instance, since)[0])
    return out


def dev(repeat: int) -> dict[str, list[float]]:
    """Start time and process-group memory of `dagster dev` in an empty home."""
    out: dict[str, list[float]] = {"dev_rss": []}
    for i in range(repeat):
        with fresh_home() as home:
            instance_home(home)
            loaded("dev")
            with ui(home, None) as (proc, _, took):
                time.sleep(10)
                rss = rss_of_group(proc.pid)
        print(f"  dev {i + 1}: code location loaded after {took:.1f} s; process group {mib(rss)}; {load()}")
        out["dev_rss"].append(rss / 1024 / 1024)
    return out


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


def suite() -> dict[str, list[float]]:
    """The whole suite once (minutes; a median of several is not worth the machine time)."""
    loaded("suite")
    started = time.perf_counter()
    reply = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    tail = reply.stdout.strip().splitlines()[-1] if reply.stdout.strip() else reply.stderr[-500:]
    print(f"  suite: exit {reply.returncode} after {wall:.0f} s: {tail}")
    return {"suite": [wall]}


def table(figures: dict[str, list[float]]) -> None:
    print("\nfigure | median | target | met/missed | load (1 min) at start\n--- | --- | --- | --- | ---")
    for key, (label, limit, unit) in TARGETS.items():
        if values := figures.get(key):
            value = statistics.median(values)
            spread = f" (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})" if len(values) > 1 else ""
            met = value < limit if limit else value == 0
            loads = LOADS.get({"ratio": "cold", "worker_start": "live"}.get(key, key.split("_")[0]), [])
            print(f"{label} | {value:.1f} {unit}{spread} | {f'< {limit:g} {unit}'.strip() if limit else '0'} | "
                  f"{'met' if met else 'missed'} | {', '.join(f'{x:.1f}' for x in loads)}")


RUNNERS = {"cold": cold, "live": live, "backfill": backfill, "dev": dev}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--suite", action="store_true", help="also run the whole test suite once (minutes)")
    parser.add_argument("--instance-yaml", type=Path, default=_common.INSTANCE_YAML,
                        help="the dagster.yaml of every home (default: the project's)")  # fmt: skip
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)  # cold's denominator
    args = parser.parse_args()
    if args.direct:
        print(json.dumps(direct_calls()))
        return 0
    _common.INSTANCE_YAML = args.instance_yaml.resolve()
    # SIGTERM (e.g. `timeout`) would end Python without `finally`: make it an exit, so servers stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"{machine()}\ninstance: {_common.INSTANCE_YAML}\n"
          f"repetitions: {args.repeat}; parts: {', '.join(args.only)}{' + suite' if args.suite else ''}")
    figures: dict[str, list[float]] = {}
    failed: list[str] = []
    for part in [p for p in PARTS if p in args.only]:
        print(f"\n== {part}")
        try:
            figures.update(RUNNERS[part](args.repeat))
        except Exception as err:  # noqa: BLE001 — one failing part must not hide the others' figures
            failed.append(f"{part}: {type(err).__name__}: {str(err)[-800:]}")
            print(f"  {part} FAILED: {failed[-1]}")
    if args.suite:
        print("\n== suite")
        figures.update(suite())
    table(figures)
    for line in failed:
        print(f"not measured — {line}")
    return 1 if failed else 0


# ---- cold's denominator: the same domain work as plain calls, in a fresh process --------------------------------

def _raw_frames(client) -> tuple[dict, dict]:
    """The raw assets' frames per period: {"KONK4"|"KONK25": {month: frame}}, {year: DEMO14 frame}."""
    import pandas as pd

    from sector_forecast.domain.sectors import ACTIVE_ENTERPRISES

    def raw(table: str, codes: str, first: str, **extra: list[str]) -> dict[str, pd.DataFrame]:
        last = client.table_meta(table)["latestPeriod"]
        frame = client.data(table, {codes: ["*"], **extra, "Tid": [f">={first}<={last}"]})
        value = pd.to_numeric(frame["INDHOLD"], errors="coerce")
        frame = frame.assign(period=frame["TID"].astype(str), suppressed=frame["suppressed"].astype(bool))
        return {p: f.reset_index(drop=True) for p, f in frame.assign(value=value).groupby("period")}

    konk = {t: {p: pd.DataFrame({c.lower(): f[c].astype(str), "virktyp1": f["VIRKTYP1"].astype(str), "period": p,
                                  "bankruptcies": f["value"].astype("Int64"), "suppressed": f["suppressed"]})
                for p, f in raw(t, c, "2009M01", VIRKTYP1=[ACTIVE_ENTERPRISES]).items()}
            for t, c in (("KONK4", "BRANCHE"), ("KONK25", "BRANCHE25"))}  # fmt: skip
    births = {int(y): pd.DataFrame({"region": f["REGION"].astype(str), "branchedb0710": f["BRANCHEDB0710"].astype(str),
                                    "maengde4": f["MÆNGDE4"].astype(str), "period": y, "value": f["value"],
                                    "suppressed": f["suppressed"]})
              for y, f in raw("DEMO14", "BRANCHEDB0710", "2019", REGION=["000"], MÆNGDE4=["*"]).items()}  # fmt: skip
    return konk, births


def direct_calls() -> dict[str, float]:
    """What the assets call (StatBank client, domain functions) for the same partitions, timed by step.

    Left out on purpose: Dagster, MLflow logging and packaging, Parquet IO, contracts, metadata and plots.
    Imports are timed too (this runs in a fresh process), as they count in the CLI's run.
    """
    started = mark = time.perf_counter()
    steps: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal mark
        steps[name], mark = time.perf_counter() - mark, time.perf_counter()

    import pandas as pd

    from sector_forecast.domain import (
        calibration,
        drift,
        features,
        forecasters,
        gate,
        horizons,
        metrics,
        monitoreval,
        panel,
        score,
        scorecast,
    )
    from sector_forecast.domain.features import HORIZONS
    from sector_forecast.domain.sectors import KONK4_TO_SECTOR, KONK25_TO_SECTOR
    from sector_forecast.statbank import StatBankClient

    lap("imports")
    konk, births = _raw_frames(StatBankClient())  # the bundled snapshot, as `sector-forecast run` without a URL
    lap("raw frames")
    rows = []
    for quarter in sorted({panel.month_quarter(m) for m in konk["KONK25"]}):
        months = panel.quarter_months(quarter)
        if not all(m in konk["KONK25"] for m in months):
            continue
        new = panel.quarterly_bankruptcies([konk["KONK25"][m] for m in months], "branche25", KONK25_TO_SECTOR,
                                           quarter=quarter)  # fmt: skip
        old_months = [konk["KONK4"][m] for m in months if m in konk["KONK4"]]
        old = (panel.quarterly_bankruptcies(old_months, "branche", KONK4_TO_SECTOR, quarter=quarter)
               if old_months else None)  # KONK4 closed at 2025M12
        known = {y: f for y, f in births.items() if y <= panel.quarter_year(quarter)}
        rows.append(panel.build_panel(new, panel.quarterly_births(known, quarter), old))
    frame = score.panel_scores(pd.concat(rows, ignore_index=True))[panel.PANEL_COLUMNS]
    quarters = sorted(frame["quarter"].unique())
    feats = features.build_features(frame, quarters)
    lap("panel + features")
    origins = [q for q in quarters if q >= "2012Q1"]  # FIRST_ORIGIN of defs/partitions.py
    frames = horizons.horizon_frames(feats)  # the fit assets: every model, origin and horizon (1-4, direct)
    fits = [horizons.fit_horizons(name, feats, origin, frames=frames)
            for name in forecasters.MODELS for origin in origins]
    lap(f"fits ({len(forecasters.MODELS)} models x {len(origins)} origins x horizons {min(HORIZONS)}-{max(HORIZONS)})")
    # backtest_leaderboard: calibration per horizon, leaderboards, the score backtest; champion_model: the gate
    predictions = horizons.attach_actuals(pd.concat([f[1] for f in fits], ignore_index=True), frame)
    all_validation = pd.concat([f[2] for f in fits], ignore_index=True)
    by_horizon = calibration.calibrate_horizons(predictions, all_validation)
    calibrated, validation = horizons.one_step(by_horizon), horizons.one_step(all_validation)
    horizons.leaderboards(by_horizon)
    scores = scorecast.score_backtest(calibrated, frame, validation)
    metrics.leaderboard(calibrated, target="bankruptcies")
    metrics.leaderboard(scores, target="score")
    champion = gate.promotion_gate(calibrated, forecasters.BASELINES, alpha=0.10).champion
    rows = calibrated[calibrated["model"] == champion]
    counts = frame[["sector", "quarter", "bankruptcies"]]
    # monitor_evaluation and drift_report's statistics
    monitoreval.evaluate_monitors(counts, rows, origins[0])
    for quarter in origins:
        drift.data_drift(counts, quarter)
        current = rows[rows["target_quarter"].astype(str) == quarter][["sector", "prediction"]].merge(
            counts[counts["quarter"] == quarter].rename(columns={"bankruptcies": "actual"}), on="sector", how="left")
        drift.performance_degradation(rows, current, quarter)
    lap("leaderboard, scores, gate, monitors")
    steps["total"] = time.perf_counter() - started
    return steps


if __name__ == "__main__":
    raise SystemExit(main())
