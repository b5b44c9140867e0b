"""What every benchmark script shares: the machine it ran on, process memory, a fresh Dagster home.

Benchmarks are scripts that print figures, not timed tests: run them on a quiet machine (other processes
compete for the same two cores) and copy the printed block into docs/benchmarks.md. Background servers
(the local StatBank server, `dagster dev`) are started in their own process group and always killed,
by the helpers at the end of this module (benchmarks import no test module).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/<script>.py` from anywhere
    sys.path.insert(0, str(REPO))
VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "sector-forecast")
SNAPSHOT = REPO / "data" / "statbank"
INSTANCE_YAML = REPO / "dagster.yaml"  # every benchmark home's instance (`speed.py --instance-yaml` for another)


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


# ---- background processes (the benchmarks' own, so that no benchmark imports a test module) -----------------


def isolated_env(**extra: str) -> dict[str, str]:
    """This process's environment without the caller's Dagster, StatBank and MLflow settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SECTOR_FORECAST_", "MLFLOW_"))}
    return {**env, "PYTHONUNBUFFERED": "1", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", **extra}


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def background(cmd: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`cmd` in its own process group, output to `log`; on exit SIGTERM the group, then SIGKILL what is left."""
    import signal

    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
    try:
        yield proc
    finally:
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=grace)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def wait_until(check: Callable[[], bool], what: str, timeout: float, proc: subprocess.Popen, log: Path) -> float:
    """Poll `check` until true; seconds waited. Fails naming `what`, with the log's tail, on timeout or exit."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if check():
            return time.perf_counter() - started
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s: {log.read_text(errors='replace')[-2000:]}")


@dataclass
class StatBankServer:
    """The local StatBank server (`python -m sector_forecast.statbank.server.http`) and its admin API."""

    url: str

    def publish(self, table: str) -> dict:
        """Release the table's next period (the server's seeded generator makes its numbers)."""
        import requests

        reply = requests.post(self.url.removesuffix("/v1") + "/admin/publish", json={"table": table}, timeout=30)
        reply.raise_for_status()
        return reply.json()


@contextmanager
def statbank_server(snapshot: Path, logs: Path) -> Iterator[StatBankServer]:
    """Serve `snapshot` on a free port until the block ends."""
    import requests

    port = free_port()
    cmd = [CLI, "statbank", "serve", "--snapshot", str(snapshot), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/v1"
    log = logs / f"statbank-{port}.log"

    def answers() -> bool:
        try:
            return requests.get(url.removesuffix("/v1") + "/admin/state", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    with background(cmd, log, isolated_env()) as proc:
        wait_until(answers, "local StatBank server", 60, proc, log)
        yield StatBankServer(url)


def snapshot_without_last_quarter_month(target: Path) -> str:
    """Copy the bundled snapshot into `target` minus KONK25's newest quarter-closing month; return that month.

    Publishing it then completes a quarter: the expensive case, in which panel, features, fits and forecasts
    all move.
    """
    from sector_forecast.statbank.snapshot import read_provenance, read_snapshot, write_snapshot_files

    tables = read_snapshot(SNAPSHOT)
    konk25 = tables["KONK25"]
    periods = sorted(set(konk25.data["TID"]))
    month = next(p for p in reversed(periods) if int(p[5:]) % 3 == 0)
    keep = [p for p in periods if p < month]
    konk25.data = konk25.data[konk25.data["TID"].isin(keep)].reset_index(drop=True)
    konk25.time_variable["values"] = [v for v in konk25.time_variable["values"] if v["id"] in keep]
    konk25.meta["latestPeriod"] = keep[-1]
    write_snapshot_files(target, tables.values(), read_provenance(SNAPSHOT))
    return month


# ---- the runs: a cold run, `dagster dev`, and what the instance recorded ------------------------------------

LOADED = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
QUIET_AFTER = 45.0  # s without runs after a change: longer than the slowest sensor interval (30 s) + a tick


def instance_at(home: Path):
    """The Dagster instance of `home` (use as a context manager)."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home))


def materialised_since(instance, since: float) -> list[tuple[float, str, str | None]]:
    """(timestamp, asset, partition) of every materialisation after `since`, oldest first."""
    import dagster as dg

    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_MATERIALIZATION, after_timestamp=since),
        ascending=True, limit=100_000)  # fmt: skip
    return [(r.event_log_entry.timestamp, r.asset_key.to_user_string(), r.partition_key) for r in records]


def busy(instance) -> bool:
    """Anything queued, starting or running, or a backfill still requested."""
    import dagster as dg

    active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED]  # fmt: skip
    backfilling = any(b.status.value == "REQUESTED" for b in instance.get_backfills(limit=20))
    return instance.get_runs_count(dg.RunsFilter(statuses=active)) > 0 or backfilling


def wait_quiet(instance, quiet_for: float, timeout: float, not_before: float = 0.0) -> None:
    """Nothing busy for `quiet_for` s (and not before the epoch time `not_before`)."""
    last, deadline = time.time(), time.time() + timeout
    while time.time() < deadline:
        if busy(instance):
            last = time.time()
        elif time.time() - last >= quiet_for and time.time() >= not_before:
            return
        time.sleep(1)
    raise TimeoutError(f"still busy after {timeout:.0f} s")


def report_runs(instance, since: float) -> tuple[int, list[float]]:
    """Print each run after `since` (created / started / ended, s after it); (partitions repeated, worker starts)."""
    from datetime import UTC, datetime

    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(created_after=datetime.fromtimestamp(since, tz=UTC)),
                                       ascending=True)  # fmt: skip
    print(f"    {len(records)} runs (created / started / ended, s after t=0):")
    workers = []
    for record in records:
        run, stats = record.dagster_run, instance.get_run_stats(record.dagster_run.run_id)
        created = record.create_timestamp.timestamp()
        if stats.start_time:
            workers.append(stats.start_time - created)
        span = [run.tags.get(f"dagster/asset_partition_range_{end}") for end in ("start", "end")]
        where = f"[{span[0]}..{span[1]}]" if span[0] else f"[{run.tags.get('dagster/partition', '-')}]"
        shown = " / ".join(f"{t - since:6.1f}" if t else "     -" for t in (created, stats.start_time, stats.end_time))
        assets = ",".join(sorted(k.to_user_string() for k in (run.asset_selection or []))) or run.job_name
        print(f"      {shown}  {assets[:60]}{where}")
    counts = Counter(f"{a}[{p}]" if p else a for _, a, p in materialised_since(instance, since))
    repeated = {k: n for k, n in sorted(counts.items()) if n > 1}
    print(f"    partitions materialised more than once: {len(repeated)} {list(repeated.items())[:12] or ''}")
    return len(repeated), workers


def cold_run(home: Path, url: str | None = None) -> tuple[float, int, str]:
    """`sector-forecast run` into the empty `home` (the bundled snapshot unless `url`): (wall s, peak RSS, log)."""
    home.mkdir(parents=True)
    shutil.copyfile(INSTANCE_YAML, home / "dagster.yaml")
    env = isolated_env(DAGSTER_HOME=str(home), **({"SECTOR_FORECAST_STATBANK_URL": url} if url else {}))
    wall, peak, code = run_measured([CLI, "run"], env, home.parent / "run.log")
    output = (home.parent / "run.log").read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"`sector-forecast run` failed ({code}): {output[-3000:]}")
    return wall, peak, output


@contextmanager
def ui(home: Path, url: str | None, command: str = "dev") -> Iterator:
    """`dagster dev` (or the webserver alone) on `home`, until its code location is loaded; yields
    (process, base URL, seconds to loaded). Its whole process group is stopped on exit."""
    import requests

    port = free_port()
    workspace = str(REPO / "workspace.yaml")
    cmd = ([str(VENV_BIN / "dagster"), "dev"] if command == "dev" else [str(VENV_BIN / "dagster-webserver")])
    env = isolated_env(DAGSTER_HOME=str(home), **({"SECTOR_FORECAST_STATBANK_URL": url} if url else {}))
    base, log = f"http://127.0.0.1:{port}", home.parent / f"{command}.log"

    def loaded() -> bool:
        try:
            data = requests.post(f"{base}/graphql", json={"query": LOADED}, timeout=5).json()["data"]
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return False
        entries = (data.get("workspaceOrError") or {}).get("locationEntries") or []
        return any((e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries)

    with background([*cmd, "-h", "127.0.0.1", "-p", str(port), "-w", workspace], log, env) as proc:
        yield proc, base, wait_until(loaded, f"dagster {command}", 300, proc, log)


def graphql(base: str, query: str, variables: dict) -> dict:
    import requests

    reply = requests.post(f"{base}/graphql", json={"query": query, "variables": variables}, timeout=60).json()
    if reply.get("errors"):
        raise RuntimeError(f"GraphQL: {reply['errors']}")
    return reply["data"]


@contextmanager
def prepared_state(trimmed: bool) -> Iterator[tuple[Path, Path, Path]]:
    """A cold run into a home, one settled `dagster dev` start, and a copy to restore before each repetition.

    Yields (home, the prepared copy, the snapshot to serve); `trimmed`: it lacks one month to publish. A
    part starts its own StatBank server per repetition: `publish` changes the server's state in memory.
    """
    tmp = Path(tempfile.mkdtemp(prefix="sector-forecast-speed-"))
    try:
        snapshot = tmp / "snapshot"
        if trimmed:
            print(f"  new month: KONK25 {snapshot_without_last_quarter_month(snapshot)} (closes a quarter)")
        else:
            shutil.copytree(REPO / "data" / "statbank", snapshot)
        with fresh_home() as home, statbank_server(snapshot, tmp) as server:
            print(f"  setup: cold run {cold_run(home, server.url)[0]:.0f} s")
            with ui(home, server.url), instance_at(home) as instance:
                wait_quiet(instance, 10, 600, not_before=time.time() + 30)  # past the sensors' first ticks
            shutil.copytree(home, tmp / "prepared")
            yield home, tmp / "prepared", snapshot
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def restore(home: Path, prepared: Path) -> None:
    """The prepared state back at the same absolute path (the MLflow store records absolute paths)."""
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(prepared, home)


