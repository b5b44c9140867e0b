"""Cold full materialisation of the whole graph from the bundled snapshot: wall time and peak memory.

    .venv/bin/python benchmarks/cold_run.py [--repeat 3] [--profile out.prof]

Each repetition runs `sector-forecast run` (every stage, in-process, single-run backfills) into an empty
`$DAGSTER_HOME` on the bundled snapshot, exactly as a new user's first command. Printed: wall time, peak
resident memory of the process, per-stage times from the CLI's own report, and from the instance afterwards
the number of runs and materialised partitions — which shows whether any stage pays a process start-up per
partition (it should be one run per stage). `--profile` runs it once under cProfile instead.
Target on a 2-core machine: under 60 s.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from _common import CLI, REPO, fresh_home, machine, mib, run_measured, summary

from sector_forecast_tests.deploy.services import isolated_env

TARGET_SECONDS = 60.0
STAGE_LINE = re.compile(r"^\s+(\w+_job)\s+(\S+)\s+(ok|FAILED)\s+([\d.]+)s", re.MULTILINE)


def instance_counts(home: Path) -> tuple[int, dict[str, int]]:
    """Runs in the instance and materialised partitions per asset (1 for an unpartitioned asset)."""
    import os
    import warnings

    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)

    from sector_forecast.defs.definitions import defs

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs_count()
        parts = {}
        for key in sorted(
            defs.resolve_asset_graph().materializable_asset_keys, key=lambda k: k.to_user_string()
        ):
            if defs.resolve_asset_graph().get(key).is_partitioned:
                parts[key.to_user_string()] = len(instance.get_materialized_partitions(key))
            else:
                parts[key.to_user_string()] = int(instance.get_latest_materialization_event(key) is not None)
    return runs, parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="write a cProfile of one cold run here instead")
    parser.add_argument(
        "--home-under", type=Path,
        help="create the Dagster home under this directory (default: the system temp dir; /dev/shm "
        "shows what the disk's fsyncs cost)",
    )  # fmt: skip
    args = parser.parse_args()
    print(machine())
    walls, peaks = [], []
    for i in range(args.repeat if not args.profile else 1):
        with fresh_home(under=args.home_under) as home:
            env = isolated_env(DAGSTER_HOME=str(home))  # no URL: the bundled snapshot
            log = home.parent / "run.log"
            home.mkdir(parents=True)
            cmd = [CLI, "run"]
            if args.profile:
                cmd = [sys.executable, "-m", "cProfile", "-o", str(args.profile), CLI, "run"]
            wall, peak, code = run_measured(cmd, env, log)
            output = log.read_text(errors="replace")
            if code != 0:
                print(output[-3000:])
                print(f"sector-forecast run failed with exit code {code}")
                return 1
            walls.append(wall)
            peaks.append(peak)
            stages = STAGE_LINE.findall(output)
            print(f"\nrun {i + 1}: wall {wall:.1f} s, peak RSS {mib(peak)}")
            for job, span, _, seconds in stages:
                print(f"  {job:16s} {span:28s} {float(seconds):6.1f} s")
            if i == 0:
                runs, parts = instance_counts(home)
    print(f"\ncold full run (bundled snapshot, `sector-forecast run`): wall {summary(walls)} s; "
          f"peak RSS {mib(max(peaks))}")  # fmt: skip
    print(f"runs: {runs}; materialised partitions: {sum(parts.values())} "
          f"({', '.join(f'{k} {v}' for k, v in parts.items())})")  # fmt: skip
    verdict = "meets" if min(walls) < TARGET_SECONDS else "misses"
    print(f"target < {TARGET_SECONDS:.0f} s on 2 cores: {verdict}")
    if args.profile:
        print(f"profile written to {args.profile}; read it with: python -m pstats {args.profile}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
