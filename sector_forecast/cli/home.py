"""The Dagster instance every CLI command shares: `$DAGSTER_HOME`, or `./.dagster_home` made on first use.

`exclusive_instance` lets one `sector-forecast run` at a time write into an instance: two runs at once would
materialise the same partitions and log the same fits twice, so the second waits for the first and says so.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from filelock import FileLock, Timeout

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = ".sector-forecast-run.lock"
HOLDER_FILE = ".sector-forecast-run.holder"  # who holds the lock, for the waiting run's message


def ensure_dagster_home() -> Path:
    """`$DAGSTER_HOME`, or `./.dagster_home` created with the project's `dagster.yaml` when unset.

    A home that is not (and cannot be made) a directory ends the command with one line naming it.
    """
    given = os.environ.get("DAGSTER_HOME")
    home = Path(given or Path.cwd() / ".dagster_home").resolve()
    name = f"DAGSTER_HOME={given!r}" if given else f"{str(home)!r} (the default when DAGSTER_HOME is unset)"
    if home.exists() and not home.is_dir():
        raise click.ClickException(f"{name} is not a directory: set DAGSTER_HOME to a directory for the Dagster "
                                   "instance (made when missing), or unset it for ./.dagster_home")
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise click.ClickException(f"{name} cannot be made a directory: {err.strerror or err}") from None
    config = home / "dagster.yaml"
    template = REPO_ROOT / "dagster.yaml"
    if not config.exists() and template.exists():  # atomic: a run starting beside us never reads half a file
        partial = config.with_name(f".{config.name}.{os.getpid()}")
        shutil.copyfile(template, partial)
        partial.replace(config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def holder(home: Path) -> str:
    """Who holds `home`'s run lock, as a user reads it (or that it is unknown)."""
    try:
        return (home / HOLDER_FILE).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


@contextmanager
def exclusive_instance(home: Path, echo: Callable[[str], None], wait: bool = True) -> Iterator[bool]:
    """Hold `home`'s run lock for the body; yields whether it is held (always, when `wait`).

    An OS file lock (`filelock`: `flock` on Linux) is released by the kernel when its process dies, so a
    `kill -9` or a power loss never leaves the instance locked. Another host sharing a PostgreSQL instance
    has its own `$DAGSTER_HOME` and is not held back by it.
    """
    lock = FileLock(home / LOCK_FILE)
    told = None
    while True:
        try:
            lock.acquire(timeout=0 if told is None else 1)
            break
        except Timeout:
            if not wait:
                yield False
                return
            if holder(home) != told:  # say it again when another run took the instance first
                told = holder(home)
                echo(f"sector-forecast: waiting for the run in progress on this instance ({told}) to finish")
    try:
        record = home / f"{HOLDER_FILE}.{os.getpid()}"
        record.write_text(f"pid {os.getpid()} on {socket.gethostname()}, since "
                          f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
        record.replace(home / HOLDER_FILE)  # atomic: a waiting run never reads half a line
        yield True
    finally:
        lock.release()
