"""Which heavy libraries each stage's run loads, as a run worker would: one fresh process per stage job.

    .venv/bin/python benchmarks/run_imports.py HOME [JOB ...]

HOME is a `$DAGSTER_HOME` after a `sector-forecast run`; it is copied, and each job (default: every stage)
materialises its newest materialised partition in a new interpreter on the copy. Printed per job: the
libraries loaded by the time the code location is (every run worker pays them) and those its run added (its
asset bodies pay them). A library in a run that does not use it is start-up every such run pays. The copy's
MLflow store still names HOME's artifact folder (absolute paths), so model artifacts land there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _common  # first: puts the repository on sys.path
from _common import REPO, clean_env

HEAVY = ("statsforecast", "statsmodels", "fugue", "sklearn", "xgboost", "mlflow", "matplotlib", "scipy.stats",
         "scipy.special", "threadpoolctl", "requests", "pandera.backends")
ONE_RUN = f"""
import json, sys, time
started = time.perf_counter()
import dagster as dg
from sector_forecast.defs.definitions import defs
heavy = {HEAVY!r}
at_load = [m for m in heavy if m in sys.modules]
job = defs.resolve_job_def(sys.argv[1])
with dg.DagsterInstance.get() as instance:
    key = None
    if job.partitions_def is not None:
        done = set().union(*(instance.get_materialized_partitions(k) for k in instance.get_asset_keys()))
        key = max(k for k in job.partitions_def.get_partition_keys(dynamic_partitions_store=instance) if k in done)
    loaded = time.perf_counter()
    ok = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False).success
print(json.dumps({{"partition": key, "ok": ok, "load_s": loaded - started, "run_s": time.perf_counter() - loaded,
                  "at_load": at_load, "in_run": [m for m in heavy if m in sys.modules and m not in at_load]}}))
"""


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    from sector_forecast.defs.jobs import STAGES

    home, jobs = Path(sys.argv[1]).resolve(), sys.argv[2:] or list(STAGES)
    print(f"{_common.machine()}\nhome: {home} (a copy)")
    with tempfile.TemporaryDirectory(prefix="run-imports-") as scratch:
        copy = Path(scratch) / "dagster_home"
        shutil.copytree(home, copy)
        for job in jobs:
            out = subprocess.run([sys.executable, "-c", ONE_RUN, job], env=clean_env(DAGSTER_HOME=str(copy)),
                                 cwd=REPO, capture_output=True, text=True)  # fmt: skip
            if out.returncode:
                print(f"  {job}: failed ({out.returncode}): {out.stderr.strip()[-400:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {job}[{r['partition'] or '-'}] {'ok' if r['ok'] else 'FAILED'}: load {r['load_s']:.1f} s, "
                  f"run {r['run_s']:.1f} s; at load: {', '.join(r['at_load']) or '-'}; "
                  f"run added: {', '.join(r['in_run']) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
