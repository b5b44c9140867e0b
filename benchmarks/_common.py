"""What every benchmark script shares: the machine it ran on, process memory, a fresh Dagster home.

Benchmarks are scripts that print figures, not timed tests: run them on a quiet machine (other processes
compete for the same two cores) and copy the printed block into docs/benchmarks.md. Background servers
(the local StatBank server, `dagster dev`) are started in their own process group and always killed,
through the same helpers the tests use (sector_forecast_tests/deploy/services.py).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/<script>.py` from anywhere
    sys.path.insert(0, str(REPO))
VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "sector-forecast")


def machine() -> str:
    """CPU model, cores, memory and software versions: the figures mean nothing without them."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")  # fmt: skip
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))  # fmt: skip
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    import dagster

    return (f"machine: {cpu}; nproc {os.cpu_count()}; memory {mem_kb / 1024 / 1024:.1f} GiB; "
            f"load average before start {load}\nsoftware: Python {platform.python_version()}, "
            f"dagster {dagster.__version__}, {platform.system()} {platform.release()}")  # fmt: skip


@contextmanager
def fresh_home(keep: bool = False, under: Path | None = None) -> Iterator[Path]:
    """An empty directory for `$DAGSTER_HOME` (and the MLflow store under it), removed afterwards.

    `under` puts it on another file system, e.g. /dev/shm to see what the disk's fsyncs cost.
    """
    root = Path(tempfile.mkdtemp(prefix="sector-forecast-bench-", dir=under))
    try:
        yield root / "dagster_home"
    finally:
        if keep:
            print(f"(kept {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the caller's Dagster, StatBank and MLflow settings, plus ``extra``.

    So a benchmark reads the bundled snapshot into its own home whatever the shell had set.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SECTOR_FORECAST_", "MLFLOW_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def rss_of_group(pgid: int) -> int:
    """Resident memory (bytes) of every live process in a process group, read from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # fields after the name: state, ppid, pgrp, ...
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        total += next((int(line.split()[1]) * 1024 for line in status.splitlines()
                       if line.startswith("VmRSS:")), 0)  # fmt: skip
    return total


_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def run_measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, int, int]:
    """Run `cmd` to completion: (wall seconds, peak RSS in bytes of its largest process, exit code).

    A small wrapper process runs `cmd`, so the peak (RUSAGE_CHILDREN's ru_maxrss: the largest resident set
    of any descendant) starts from zero for every measurement.
    """
    import time

    peak_file = log.with_suffix(".maxrss")
    started = time.perf_counter()
    with log.open("wb") as out:
        code = subprocess.run([sys.executable, "-c", _MEASURE, str(peak_file), *cmd], env=env, cwd=REPO,
                              stdout=out, stderr=subprocess.STDOUT).returncode  # fmt: skip
    wall = time.perf_counter() - started
    return wall, int(peak_file.read_text()) * 1024, code


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    median = statistics.median(values)
    return f"median {median:.1f} (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.0f} MiB"
