"""A two-asset graph for `test_automation_own_run.py`, and a run of its `down` held open in another process.

`python -m sector_forecast_tests.automation.held_run HOME SIGNALS` materialises `down` on the instance at HOME
the way a run worker would, in its own process: the step touches SIGNALS/started, waits for SIGNALS/release, and
fails if SIGNALS/fail exists. A process, not a thread: an in-process run captures the process's stdout and
stderr (Dagster's compute logs), which a test's other thread shares.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import dagster as dg

from sector_forecast.defs.assets.raw import RAW_GROUP
from sector_forecast.defs.automation import with_automation

SIGNALS_ENV = "SECTOR_FORECAST_TEST_HELD_RUN"
HOLD_SECONDS = 60


@dg.asset(group_name=RAW_GROUP)
def up() -> int:
    return 1


@dg.asset(deps=[up])
def down() -> None:
    signals = os.environ.get(SIGNALS_ENV)
    if not signals:  # materialised by the test itself: straight through
        return
    folder = Path(signals)
    (folder / "started").touch()
    deadline = time.monotonic() + HOLD_SECONDS
    while not (folder / "release").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"held run: nobody released it within {HOLD_SECONDS} s")
        time.sleep(0.05)
    if (folder / "fail").exists():
        raise RuntimeError("down's run fails, as the test asked")


DEFS = dg.Definitions(assets=with_automation([up, down]))


def main(home: str, signals: str) -> int:
    os.environ[SIGNALS_ENV] = signals
    with dg.DagsterInstance.from_config(home) as instance:
        result = dg.materialize([up, down], selection=[down], instance=instance, raise_on_error=False)
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
