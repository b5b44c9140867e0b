"""Issue 14's speed figures in one command, each beside its target, as medians of N repetitions.

    .venv/bin/python benchmarks/speed.py [--repeat 3] [--only live backfill cold dev] [--suite]

- live: the local StatBank server publishes the KONK25 month that closes a quarter; seconds until fresh
  `forecasts` and `drift_report` through `dagster dev` (webserver + daemon), with each run's hops read from
  the instance (tick -> created, created -> dequeued, dequeued -> started, work, gap to the next run) and the
  partitions the one change materialised more than once.
- backfill: two quarters of quarterly_panel and everything downstream, launched as the UI does
  (GraphQL `launchPartitionBackfill` on the webserver of `dagster dev`), until the backfill is done; and
  the partitions materialised more than once.
- cold: `sector-forecast run` into an empty home (cold_run.py's measurement), and the orchestration ratio:
  its wall time over the same domain work as plain calls in one process (_speed_direct.py).
- dev: resident memory of the `dagster dev` process tree (webserver.py's measurement); the run worker's
  created -> started comes from the runs of `live`.
- suite (--suite, opt-in: minutes): the whole pytest suite's wall time and its skipped tests.
The machine is shared: every figure is an upper bound for an idle machine.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import CLI, REPO, fresh_home, machine, mib, run_measured

from sector_forecast_tests.deploy.services import isolated_env

PARTS = ["live", "backfill", "cold", "dev"]


@dataclass(frozen=True)
class Target:
    label: str
    limit: float
    unit: str


TARGETS = {
    "live": Target("live: publication -> fresh forecasts + drift_report", 30, "s"),
    "live_repeated": Target("live: partitions materialised more than once", 0, ""),
    "backfill": Target("backfill: 2 quarters of quarterly_panel+downstream", 60, "s"),
    "backfill_repeated": Target("backfill: partitions materialised more than once", 0, ""),
    "cold": Target("cold: `sector-forecast run`", 45, "s"),
    "ratio": Target("cold: orchestration ratio (run / direct calls)", 1.5, "x"),
    "dev_rss": Target("dev: `dagster dev` process tree RSS", 700, "MiB"),
    "worker_start": Target("dev: run worker created -> started (live runs)", 3, "s"),
    "suite": Target("suite: pytest wall time", 480, "s"),
    "skipped": Target("suite: skipped tests", 0, ""),
}


def cold(repeat: int) -> dict[str, list[float]]:
    """Cold `sector-forecast run` and the direct domain calls, alternated so both see the same load."""
    out: dict[str, list[float]] = {"cold": [], "direct": [], "ratio": []}
    for i in range(repeat):
        with fresh_home() as home:
            home.mkdir(parents=True)
            env = isolated_env(DAGSTER_HOME=str(home))  # no URL: the bundled snapshot, as a new user
            wall, peak, code = run_measured([CLI, "run"], env, home.parent / "run.log")
            if code != 0:
                raise RuntimeError((home.parent / "run.log").read_text(errors="replace")[-3000:])
        started = time.perf_counter()
        reply = subprocess.run([sys.executable, str(Path(__file__).with_name("_speed_direct.py"))],
                               env=isolated_env(), cwd=REPO, capture_output=True, text=True)  # fmt: skip
        direct = time.perf_counter() - started
        if reply.returncode != 0:
            raise RuntimeError(reply.stderr[-3000:])
        steps = json.loads(reply.stdout.strip().splitlines()[-1])
        print(f"\n  cold run {i + 1}: `sector-forecast run` {wall:.1f} s (peak RSS {mib(peak)}); direct calls "
              f"{direct:.1f} s; ratio {wall / direct:.2f}x")  # fmt: skip
        print("    direct (domain functions + StatBank client, one process; no Dagster, no MLflow logging, "
              "no Parquet IO, contracts or plots): " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
        out["cold"].append(wall)
        out["direct"].append(direct)
        out["ratio"].append(wall / direct)
    return out


def dev(repeat: int) -> dict[str, list[float]]:
    """webserver.py's `dagster dev` measurement: RSS of the whole process group after a 10 s settle."""
    from webserver import measure

    out: dict[str, list[float]] = {"dev_rss": []}
    for i in range(repeat):
        up, loaded, rss = measure("dagster dev")
        print(f"  dev run {i + 1}: /server_info after {up:.1f} s, code location after {loaded:.1f} s, "
              f"{mib(rss)}")  # fmt: skip
        out["dev_rss"].append(rss / 1024 / 1024)
    return out


def suite() -> dict[str, list[float]]:
    """The whole suite once (it takes minutes; a median of several is not worth the machine time)."""
    # -p no:cacheprovider: the command the issue names; no .pytest_cache written into the repository.
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    started = time.perf_counter()
    reply = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    tail = reply.stdout.strip().splitlines()[-1] if reply.stdout.strip() else reply.stderr[-500:]
    skipped = re.search(r"(\d+) skipped", tail)
    print(f"  suite: exit {reply.returncode} after {wall:.0f} s: {tail}")
    return {"suite": [wall], "skipped": [float(skipped.group(1)) if skipped else 0.0]}


def table(figures: dict[str, list[float]]) -> None:
    print("\nfigure | median | target | met/missed")
    print("--- | --- | --- | ---")
    for key, target in TARGETS.items():
        values = figures.get(key)
        if not values:
            continue
        value = statistics.median(values)
        met = value < target.limit if target.limit else value == 0
        spread = f" (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})" if len(values) > 1 else ""
        limit = f"< {target.limit:g} {target.unit}".strip() if target.limit else "0"
        print(f"{target.label} | {value:.1f} {target.unit}{spread} | {limit} | {'met' if met else 'missed'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--suite", action="store_true", help="also run the whole test suite once (minutes)")
    args = parser.parse_args()
    # SIGTERM (e.g. `timeout`) would end Python without running `finally`: make it an exit, so every
    # context manager still stops its servers and removes its temporary home.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(machine())
    print(f"repetitions: {args.repeat}; parts: {', '.join(args.only)}{' + suite' if args.suite else ''}")
    from _speed_parts import backfill, live

    runners = {"live": live, "backfill": backfill, "cold": cold, "dev": dev}
    figures: dict[str, list[float]] = {}
    failed: list[str] = []
    for part in [p for p in PARTS if p in args.only]:
        print(f"\n== {part}")
        started = time.perf_counter()
        try:
            figures.update(runners[part](args.repeat))
        except Exception as err:  # noqa: BLE001 — one failing part must not hide the others' figures
            failed.append(f"{part}: {type(err).__name__}: {str(err)[-800:]}")
            print(f"  {part} FAILED: {failed[-1]}")
        print(f"  ({part} took {time.perf_counter() - started:.0f} s)")
    if args.suite:
        print("\n== suite")
        figures.update(suite())
    table(figures)
    for line in failed:
        print(f"not measured — {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
