"""Which process executes a run, recorded on the run itself, so a run whose process died can be told apart.

Dagster's run monitoring asks the run launcher whether a run's worker lives, and `DefaultRunLauncher` (what
`dagster dev` and the compose deployment use) cannot say (`check_run_worker_health` is not implemented); its
code server fails a run whose worker dies, but only while the code server itself lives. Runs executed in-process
by `sector-forecast run` have no launcher at all. So every run carries the host and the process executing it,
with the process's start time (a recycled pid is another process), and `pipeline.fail_interrupted_runs`
fails the unfinished runs of this host whose process is gone.

Who writes the tags:
- `sector-forecast run` at launch: it executes its runs in-process, so the launching process is the executing
  one, and the run is judged from its first moment.
- every run, from inside the process that executes it, when its resources are initialised
  (`tag_executing_process`, called by the IO manager that every asset step writes through): runs launched by
  the daemon or the UI (automation, Materialize, backfills) are thereby tagged by their run worker. The
  executor is in-process (`definitions.py`), so that happens once per run, in the run worker; a CLI run
  writes the same tags again.

Not covered: a run worker killed in the short moment between its run turning STARTED and its resources being
initialised (its code is loaded before), and runs of asset checks alone (no IO manager).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import dagster as dg

HOST_TAG = "sector_forecast/host"
PROCESS_TAG = "sector_forecast/process"  # "<pid>:<start time>": a recycled pid is another process


def process_token(pid: int) -> str | None:
    """`pid` with its start time (clock ticks since boot, /proc on Linux); None when no such process exists."""
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # Field 22 is the start time; fields are counted after the command name, which may hold spaces.
        return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return f"{pid}:"


def process_tags() -> dict[str, str]:
    """Tags naming this process as the one executing a run, for `pipeline.fail_interrupted_runs`."""
    return {HOST_TAG: socket.gethostname(), PROCESS_TAG: process_token(os.getpid()) or f"{os.getpid()}:"}


def tag_executing_process(context: dg.InitResourceContext) -> None:
    """Tag the run being initialised with this process (its run worker); nothing outside a run (`build_resources`)."""
    if context.run is not None and context.instance is not None:
        context.instance.add_run_tags(context.run.run_id, process_tags())
