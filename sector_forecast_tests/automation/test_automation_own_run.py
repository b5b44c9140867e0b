"""The project's automation condition never requests a partition at the tick its own run ended.

A tick reads the event log and the runs at different moments; a run that ends between the two reads looks
neither in progress nor materialised, and a trigger latched while it ran would build it again (seen in
`speed.py`'s UI backfill: `fit_xgboost` and `drift_report` twice, docs/benchmarks.md). That moment cannot be
placed inside a tick from outside, so the test uses the one run that ends without a materialisation: a failed
one. Without the guard, the tick after it ends requests the partition; with it, the request waits one tick
(and a materialisation, seen by then, would clear the trigger instead).

A two-asset graph with `with_automation`'s conditions (`held_run.py`) on an instance in a temporary folder;
`down`'s run is held open in its own process so that ticks see it in progress.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from scripts.processes import REPO, wait_until
from sector_forecast_tests.automation.held_run import DEFS, HOLD_SECONDS, SIGNALS_ENV, down, up


class World:
    """An instance in `home`, and automation ticks over DEFS on it, carrying the cursor like the sensor does."""

    def __init__(self, home: Path) -> None:
        self.home, self.cursor = home, None
        home.mkdir()
        self.instance = dg.DagsterInstance.from_config(str(home))

    def tick(self) -> set[str]:
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {name for name in ("up", "down") if result.get_num_requested(dg.AssetKey(name))}

    @contextmanager
    def held_down_run(self, signals: Path, fail: bool) -> Iterator[subprocess.Popen]:
        """`down`'s run in its own process, yielded once its step is running; killed on the way out if alive."""
        signals.mkdir()
        if fail:
            (signals / "fail").touch()
        proc = subprocess.Popen([sys.executable, "-m", "sector_forecast_tests.automation.held_run", str(self.home),
                                 str(signals)], cwd=REPO)
        try:
            wait_until((signals / "started").exists, "down's held run starting its step", HOLD_SECONDS, proc, poll=0.05)
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.delenv(SIGNALS_ENV, raising=False)
    world = World(tmp_path / "home")
    try:
        assert dg.materialize([up, down], instance=world.instance).success
        assert world.tick() == set()  # first evaluation: nothing is new
        yield world
    finally:
        world.instance.dispose()


def _release(signals: Path, run: subprocess.Popen) -> int:
    (signals / "release").touch()
    return run.wait(HOLD_SECONDS)


def test_a_run_that_ends_between_ticks_is_not_requested_at_that_tick(world: World, tmp_path: Path) -> None:
    assert dg.materialize([up], instance=world.instance).success  # the trigger: down's dep updated
    with world.held_down_run(tmp_path / "signals", fail=True) as run:
        assert world.tick() == set()  # triggered, but its own run is in progress: waits, the trigger latched
        assert _release(tmp_path / "signals", run) == 1  # the run failed
    assert world.tick() == set()  # the run ended since the last tick: not now (Dagster's eager() would request)
    assert world.tick() == {"down"}  # the failed run built nothing, so the trigger stands: requested a tick later


def test_a_run_that_materialised_clears_the_trigger(world: World, tmp_path: Path) -> None:
    assert dg.materialize([up], instance=world.instance).success
    with world.held_down_run(tmp_path / "signals", fail=False) as run:
        assert world.tick() == set()
        assert _release(tmp_path / "signals", run) == 0
    assert world.tick() == set()
    assert world.tick() == set()  # its materialisation was seen: nothing is requested, now or later
