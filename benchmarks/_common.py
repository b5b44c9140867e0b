"""What the benchmark scripts share: the machine, fresh Dagster homes, background servers, the instance's runs.

Benchmarks print figures; they are not timed tests (they import no test module). Every background process
(the local StatBank server, `dagster dev`) runs in its own process group and is killed when its block ends.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/<script>.py` from anywhere
    sys.path.insert(0, str(REPO))
VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "sector-forecast")
INSTANCE_YAML = REPO / "dagster.yaml"  # every benchmark home's instance (`speed.py --instance-yaml` for another)
LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
QUIET_AFTER = 45.0  # s without runs after a change: longer than the slowest sensor interval (30 s) + a tick


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


def load() -> str:
    return "load " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


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


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:.0f} MiB"


# ---- background processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def background(cmd: list[str], log: Path, env: dict[str, str], what: str, ready: Callable[[], bool]) -> Iterator:
    """`cmd` in its own process group until `ready()`; yields (process, seconds to ready); then the group dies."""
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
    try:
        started = time.perf_counter()
        while not ready():
            if proc.poll() is not None or time.perf_counter() - started > 300:
                raise RuntimeError(f"{what} not ready (exit {proc.poll()}): {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield proc, time.perf_counter() - started
    finally:
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def _answers(method: Callable[[], object]) -> bool:
    import requests

    try:
        return bool(method())
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False


@contextmanager
def statbank_server(snapshot: Path, logs: Path) -> Iterator[str]:
    """`sector-forecast statbank serve` over `snapshot` on a free port; yields its API URL (`.../v1`)."""
    import requests

    port = free_port()
    cmd = [CLI, "statbank", "serve", "--snapshot", str(snapshot), "--host", "127.0.0.1", "--port", str(port)]
    root = f"http://127.0.0.1:{port}"
    ready = lambda: _answers(lambda: requests.get(f"{root}/admin/state", timeout=2).status_code == 200)  # noqa: E731
    with background(cmd, logs / f"statbank-{port}.log", clean_env(), "local StatBank server", ready):
        yield f"{root}/v1"


def publish(url: str, table: str) -> dict:
    """Release the table's next period on the local server (its seeded generator makes the numbers)."""
    import requests

    reply = requests.post(url.removesuffix("/v1") + "/admin/publish", json={"table": table}, timeout=30)
    reply.raise_for_status()
    return reply.json()


@contextmanager
def ui(home: Path, url: str | None) -> Iterator[tuple[subprocess.Popen, str, float]]:
    """`dagster dev` on `home` until its code location is loaded: (process, base URL, seconds to loaded)."""
    import requests

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(DAGSTER_HOME=str(home), **({"SECTOR_FORECAST_STATBANK_URL": url} if url else {}))
    cmd = [str(VENV_BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml")]

    def loaded() -> bool:
        reply = requests.post(f"{base}/graphql", json={"query": LOADED}, timeout=5).json()["data"]
        entries = (reply.get("workspaceOrError") or {}).get("locationEntries") or []
        return any((e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries)

    with background(cmd, home.parent / "dev.log", env, "dagster dev", lambda: _answers(loaded)) as (proc, took):
        yield proc, base, took


def graphql(base: str, query: str, variables: dict) -> dict:
    import requests

    reply = requests.post(f"{base}/graphql", json={"query": query, "variables": variables}, timeout=60).json()
    if reply.get("errors"):
        raise RuntimeError(f"GraphQL: {reply['errors']}")
    return reply["data"]


# ---- runs and what the instance recorded --------------------------------------------------------------------

_PEAK = "import resource, subprocess, sys\ncode = subprocess.call(sys.argv[2:])\nopen(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\nsys.exit(code)"  # noqa: E501


def cold_run(home: Path, url: str | None = None) -> tuple[float, int, str]:
    """`sector-forecast run` into the empty `home`: (wall s, peak RSS of its largest process, output)."""
    home.mkdir(parents=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    env = clean_env(DAGSTER_HOME=str(home), **({"SECTOR_FORECAST_STATBANK_URL": url} if url else {}))
    log, peak = home.parent / "run.log", home.parent / "run.maxrss"  # a wrapper: the peak starts from zero
    started = time.perf_counter()
    with log.open("wb") as out:
        code = subprocess.run([sys.executable, "-c", _PEAK, str(peak), CLI, "run"], env=env, cwd=REPO, stdout=out,
                              stderr=subprocess.STDOUT).returncode  # fmt: skip
    wall, output = time.perf_counter() - started, log.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"`sector-forecast run` failed ({code}): {output[-3000:]}")
    return wall, int(peak.read_text()) * 1024, output


def instance_at(home: Path):
    """The Dagster instance of `home` (a context manager)."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home))


def materialised_since(instance, since: float) -> list[tuple[float, str, str | None]]:
    """(timestamp, asset, partition) of every materialisation after `since`, oldest first."""
    import dagster as dg

    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION, after_timestamp=float(since)),
        ascending=True, limit=100_000)  # fmt: skip
    return [(r.event_log_entry.timestamp, r.asset_key.to_user_string(), r.partition_key) for r in records]


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


@contextmanager
def prepared_state(trimmed: bool) -> Iterator[tuple[Path, Path, Path]]:
    """A cold run into a home, one settled `dagster dev` start, and a copy to restore before each repetition.

    Yields (home, the prepared copy, the snapshot to serve); `trimmed`: the snapshot lacks one month to publish.
    """
    tmp = Path(tempfile.mkdtemp(prefix="sector-forecast-speed-"))
    try:
        from scripts.trimmed_snapshot import snapshot_without_last_quarter_month

        snapshot = tmp / "snapshot"
        if trimmed:
            print(f"  new month: KONK25 {snapshot_without_last_quarter_month(snapshot)} (closes a quarter)")
        else:
            shutil.copytree(REPO / "data" / "statbank", snapshot)
        with fresh_home() as home, statbank_server(snapshot, tmp) as url:
            print(f"  setup: cold run {cold_run(home, url)[0]:.0f} s")
            with ui(home, url), instance_at(home) as instance:
                wait_quiet(instance, 10, 600, not_before=time.time() + 30)  # past the sensors' first ticks
            shutil.copytree(home, tmp / "prepared")
            yield home, tmp / "prepared", snapshot
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def restore(home: Path, prepared: Path) -> None:
    """The prepared state back at the same absolute path (the MLflow store records absolute paths)."""
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(prepared, home)
