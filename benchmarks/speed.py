"""Every speed figure in one command, each beside its target, as medians of N repetitions, with the load.

    .venv/bin/python benchmarks/speed.py [--repeat 3] [--only cold live backfill dev] [--suite] [--instance-yaml Y]
        [--busy N]

Parts (benchmarks/README.md has what each prints): cold (`sector-forecast run` into an empty home, and its
ratio to the same domain work as plain calls in a fresh process, `--direct`, alternated under the same load),
live (a KONK25 quarter-closing month published under `dagster dev`), backfill (two quarters launched through
GraphQL as the UI does), dev (`dagster dev`'s start and memory), --suite (the whole pytest suite once).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import _common  # first: puts the repository on sys.path
import requests
from _common import REPO, clean_env, cold_run, fresh_home, instance_at, instance_home, machine
from _dagster_dev import (
    LOADS,
    QUIET_AFTER,
    loaded,
    materialised_since,
    repetitions,
    report_held_back,
    report_path,
    report_runs,
    report_ticks,
    rss_of_group,
    ui,
    wait_quiet,
)

PARTS = ["cold", "live", "backfill", "dev"]
TARGETS = {  # key: (label, limit, unit); a limit of 0 means "none at all", None: a count shown, not a target
    "cold": ("cold: `sector-forecast run`", 45, "s"),
    "ratio": ("cold: orchestration ratio (run / direct calls)", 1.5, "x"),
    "live": ("live: publication -> fresh forecasts + drift_report", 30, "s"),
    "live_repeated": ("live: partitions materialised more than once", 0, ""),
    "live_held": ("live: requests held back at the tick their own run ended", None, ""),
    "backfill": ("backfill: 2 quarters of quarterly_panel+downstream", 60, "s"),
    "backfill_repeated": ("backfill: partitions materialised more than once", 0, ""),
    "backfill_held": ("backfill: requests held back at the tick their own run ended", None, ""),
    "dev_rss": ("dev: `dagster dev` process tree RSS", 700, "MiB"),
    "worker_start": ("dev: run worker created -> started (live runs)", 3, "s"),
    "suite": ("suite: pytest wall time", 480, "s"),
}
STAGE_LINE = re.compile(r"^\s+(\w+_job)\s+(\S+)\s+(ok|FAILED)\s+([\d.]+)s", re.MULTILINE)


def load() -> str:
    return "load " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.0f} MiB"


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
    out: dict[str, list[float]] = {"live": [], "live_repeated": [], "live_held": [], "worker_start": []}
    paths: list[dict[str, float]] = []
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
        repeated, runs, _ = report_runs(instance, since)
        paths.append(report_path(runs, "forecasts", first.get("forecasts", float("inf"))))
        report_ticks(graphql, since)
        out["live_held"].append(report_held_back(graphql, since))
        out["live"].append(max(first.get(a, float("inf")) for a in ("forecasts", "drift_report")))
        out["live_repeated"].append(repeated)
        workers = [r.started - r.created for r in runs if r.started is not None]
        out["worker_start"] += [statistics.median(workers)] if workers else []
    print_path_medians(paths)
    return out


def print_path_medians(paths: list[dict[str, float]]) -> None:
    """The medians of each part of the path to fresh `forecasts` over the repetitions (`report_path`)."""
    if len(paths := [p for p in paths if p]) > 1:
        print(f"  path to forecasts, medians of {len(paths)}: "
              + ", ".join(f"{k} {statistics.median(p[k] for p in paths):.1f} s" for k in paths[0]))


LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
STATUS = "query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }"


def backfill(repeat: int) -> dict[str, list[float]]:
    """The UI's backfill of the last two published quarters of quarterly_panel and everything downstream."""
    import dagster as dg

    from sector_forecast.defs.definitions import defs

    below = dg.AssetSelection.assets("quarterly_panel").downstream().resolve(defs.resolve_asset_graph())
    assets = sorted(k.to_user_string() for k in below)
    out: dict[str, list[float]] = {"backfill": [], "backfill_repeated": [], "backfill_held": []}
    paths: list[dict[str, float]] = []
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
        repeated, runs, materialised = report_runs(instance, since)
        out["backfill_repeated"].append(repeated)
        out["backfill_held"].append(report_held_back(graphql, since))
        done_at = [ts - since for ts, asset, _ in materialised if asset == "forecasts"]
        paths.append(report_path(runs, "forecasts", done_at[0]) if done_at else {})
    print_path_medians(paths)
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


def _verdict(value: float, limit: float | None, unit: str) -> tuple[str, str]:
    """The target column and met/missed: none for a count (`None`), "0" for "none at all", else "< limit"."""
    if limit is None:
        return "-", ""
    if limit == 0:
        return "0", "met" if value == 0 else "missed"
    return f"< {limit:g} {unit}".strip(), "met" if value < limit else "missed"


def table(figures: dict[str, list[float]]) -> None:
    print("\nfigure | median (\"more than once\": the worst repetition) | target | met/missed | load (1 min) at start"
          "\n--- | --- | --- | --- | ---")
    for key, (label, limit, unit) in TARGETS.items():
        if values := figures.get(key):
            # Nothing materialised twice must hold in every repetition: the worst one, not the median, is the figure.
            value = max(values) if key.endswith(("_repeated", "_held")) else statistics.median(values)
            spread = f" (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})" if len(values) > 1 else ""
            target, met = _verdict(value, limit, unit)
            loads = LOADS.get({"ratio": "cold", "worker_start": "live"}.get(key, key.split("_")[0]), [])
            print(f"{label} | {value:.1f} {unit}{spread} | {target} | {met} | {', '.join(f'{x:.1f}' for x in loads)}")


RUNNERS = {"cold": cold, "live": live, "backfill": backfill, "dev": dev}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--suite", action="store_true", help="also run the whole test suite once (minutes)")
    parser.add_argument("--instance-yaml", type=Path, default=_common.INSTANCE_YAML,
                        help="the dagster.yaml of every home (default: the project's)")  # fmt: skip
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="keep N cores busy throughout (a loaded machine: races show that a quiet one hides)")
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)  # cold's denominator
    args = parser.parse_args()
    if args.direct:
        from _direct import direct_calls

        print(json.dumps(direct_calls()))
        return 0
    _common.INSTANCE_YAML = args.instance_yaml.resolve()
    # SIGTERM (e.g. `timeout`) would end Python without `finally`: make it an exit, so servers stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"{machine()}\ninstance: {_common.INSTANCE_YAML}\n"
          f"repetitions: {args.repeat}; parts: {', '.join(args.only)}{' + suite' if args.suite else ''}"
          f"{f'; {args.busy} core(s) kept busy' if args.busy else ''}")
    figures: dict[str, list[float]] = {}
    failed: list[str] = []
    with _common.busy(args.busy):
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


if __name__ == "__main__":
    raise SystemExit(main())
