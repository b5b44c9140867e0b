"""What the benchmark scripts share: the machine, fresh Dagster homes, the graph's cold run and other commands.

Benchmarks print figures; they are not timed tests and import no test module. Importing this module puts the
repository on `sys.path`, so the scripts can use `scripts/processes.py` (background servers, as the tests do).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `scripts` and the package, run from anywhere
from scripts.processes import REPO, VENV_BIN, log_tail  # noqa: E402

CLI = str(VENV_BIN / "sector-forecast")
INSTANCE_YAML = REPO / "dagster.yaml"  # every benchmark home's instance (`speed.py --instance-yaml` for another)


def machine() -> str:
    """CPU, cores, memory, load and versions: the figures mean nothing without them."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")  # fmt: skip
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))  # fmt: skip
    import dagster

    return (f"machine: {cpu}; nproc {os.cpu_count()}; memory {mem_kb / 1024 / 1024:.1f} GiB; load average "
            f"before start {', '.join(f'{x:.2f}' for x in os.getloadavg())}\nsoftware: Python "
            f"{platform.python_version()}, dagster {dagster.__version__}, {platform.system()} "
            f"{platform.release()}")  # fmt: skip


@contextmanager
def busy(cores: int) -> Iterator[None]:
    """`cores` processes spinning beside the benchmark: a loaded machine, for what shows only under load (the
    double builds of docs/benchmarks.md's eighth round appeared with one of the two cores busy)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        yield
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()


@contextmanager
def fresh_home(keep: bool = False) -> Iterator[Path]:
    """An empty `$DAGSTER_HOME` path (the MLflow store goes under it), removed afterwards unless `keep`."""
    root = Path(tempfile.mkdtemp(prefix="sector-forecast-bench-"))
    try:
        yield root / "dagster_home"
    finally:
        print(f"(kept {root})") if keep else shutil.rmtree(root, ignore_errors=True)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the caller's Dagster, StatBank and MLflow settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SECTOR_FORECAST_", "MLFLOW_"))}
    return {**env, "PYTHONUNBUFFERED": "1", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", **extra}


def instance_home(home: Path) -> None:
    """Create `home` with the benchmarks' instance settings (`INSTANCE_YAML`) before anything starts in it."""
    home.mkdir(parents=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")


def home_env(home: Path, url: str | None = None) -> dict[str, str]:
    """`clean_env` on `home`, reading the StatBank server at `url` (None: the bundled snapshot)."""
    return clean_env(DAGSTER_HOME=str(home), **({"SECTOR_FORECAST_STATBANK_URL": url} if url else {}))


# The run's largest process (KiB) and the CPU seconds of its whole process tree (user + system, workers included).
_PEAK = "import resource, subprocess, sys\ncode = subprocess.call(sys.argv[2:])\nu = resource.getrusage(resource.RUSAGE_CHILDREN)\nopen(sys.argv[1], 'w').write(f'{u.ru_maxrss} {u.ru_utime + u.ru_stime}')\nsys.exit(code)"  # noqa: E501


def cold_run(home: Path, url: str | None = None) -> tuple[float, int, str, float]:
    """`sector-forecast run` into the empty `home`: (wall s, peak RSS of its largest process, output, CPU s)."""
    instance_home(home)
    log, peak = home.parent / "run.log", home.parent / "run.maxrss"  # a wrapper: the peak starts from zero
    started = time.perf_counter()
    with log.open("wb") as out:
        code = subprocess.run([sys.executable, "-c", _PEAK, str(peak), CLI, "run"], env=home_env(home, url), cwd=REPO,
                              stdout=out, stderr=subprocess.STDOUT).returncode  # fmt: skip
    if code != 0:
        raise RuntimeError(f"`sector-forecast run` failed ({code}): {log_tail(log)}")
    wall = time.perf_counter() - started
    maxrss, cpu = peak.read_text().split()
    return wall, int(maxrss) * 1024, log.read_text(errors="replace"), float(cpu)


def cli(home: Path, *args: str) -> str:
    """`sector-forecast <args>` on `home`: its stdout, or exit with its output's tail naming the command."""
    done = subprocess.run([CLI, *args], env=home_env(home), cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"sector-forecast {' '.join(args)} failed (exit {done.returncode}):\n"
                 f"{(done.stdout + done.stderr)[-3000:]}")  # fmt: skip
    return done.stdout


def instance_at(home: Path):
    """The Dagster instance of `home` (a context manager)."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home))
