"""The project's automation condition never requests a partition at the tick its own run ended.

A tick reads the event log and the runs at different moments; a run that ends between the two reads looks
neither in progress nor materialised, and a trigger latched while it ran would build it again (seen in
`speed.py`'s UI backfill: `fit_xgboost` and `drift_report` twice, docs/benchmarks.md). That moment cannot be
placed inside a tick from outside, so the test uses the one run that ends without a materialisation: a failed
one. Without the guard, the tick after it ends requests the partition; with it, the request waits one tick
(and a materialisation, seen by then, would clear the trigger instead).

A two-asset graph with `with_automation`'s conditions, on a temporary instance; `down`'s run is held in a
thread so that ticks see it in progress.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import dagster as dg
import pytest

from sector_forecast.defs.assets.raw import RAW_GROUP
from sector_forecast.defs.automation import with_automation

HOLD = {"release": threading.Event(), "started": threading.Event(), "fail": False}


@dg.asset(group_name=RAW_GROUP)
def up() -> int:
    return 1


@dg.asset(deps=[up])
def down() -> None:
    HOLD["started"].set()
    assert HOLD["release"].wait(60), "the test never released down's run"
    if HOLD["fail"]:
        raise RuntimeError("down's run fails, as the test asked")


DEFS = dg.Definitions(assets=with_automation([up, down]))


class Ticks:
    """Automation ticks over DEFS on one instance, carrying the cursor like the sensor does."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance, self.cursor = instance, None

    def __call__(self) -> set[str]:
        result = dg.evaluate_automation_conditions(defs=DEFS, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {name for name in ("up", "down") if result.get_num_requested(dg.AssetKey(name))}


@pytest.fixture
def ticks() -> Iterator[Ticks]:
    HOLD["started"].clear()
    HOLD["fail"] = False
    HOLD["release"].set()  # the first materialisation of both runs straight through
    with dg.instance_for_test() as instance:
        assert dg.materialize([up, down], instance=instance).success
        tick = Ticks(instance)
        assert tick() == set()  # first evaluation: nothing is new
        yield tick


def _hold_down_run(instance: dg.DagsterInstance) -> threading.Thread:
    """Start `down`'s run in a thread and return once its step is running (the run is in progress)."""
    HOLD["release"].clear()
    HOLD["started"].clear()
    thread = threading.Thread(target=lambda: dg.materialize(
        [up, down], selection=[down], instance=instance, raise_on_error=False))
    thread.start()
    assert HOLD["started"].wait(60), "down's run did not start"
    return thread


def test_a_run_that_ends_between_ticks_is_not_requested_at_that_tick(ticks: Ticks) -> None:
    assert dg.materialize([up], instance=ticks.instance).success  # the trigger: down's dep updated
    HOLD["fail"] = True
    run = _hold_down_run(ticks.instance)
    assert ticks() == set()  # triggered, but its own run is in progress: waits, the trigger latched
    HOLD["release"].set()
    run.join(60)
    assert not run.is_alive()
    assert ticks() == set()  # the run ended since the last tick: not now (Dagster's eager() would request)
    assert ticks() == {"down"}  # the failed run built nothing, so the trigger stands: requested a tick later


def test_a_run_that_materialised_clears_the_trigger(ticks: Ticks) -> None:
    assert dg.materialize([up], instance=ticks.instance).success
    run = _hold_down_run(ticks.instance)
    assert ticks() == set()
    HOLD["release"].set()
    run.join(60)
    assert ticks() == set()
    assert ticks() == set()  # its materialisation was seen: nothing is requested, now or later
