"""Where the time of a daemon-driven chain goes, read back from the instance: ticks, runs, events.

Why from the instance and not from our own clock: every hop (sensor tick, run created, dequeued, worker
started, first step, success) is recorded by Dagster itself with its timestamp, so the breakdown is the
same whoever launched the runs (sensor, automation, UI backfill) and whatever intervals are configured.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from incremental import busy, materialised_since

_HOPS = {dg.DagsterEventType.RUN_ENQUEUED, dg.DagsterEventType.RUN_DEQUEUED, dg.DagsterEventType.RUN_START,
         dg.DagsterEventType.STEP_START, dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE}  # fmt: skip


@dataclass
class Hop:
    """One run's path: when it was asked for, created, dequeued, started, did work and ended (epoch s)."""

    run_id: str
    what: str
    trigger: str
    requested: float | None
    created: float
    dequeued: float | None
    started: float | None
    first_step: float | None
    ended: float | None

    @property
    def worker_start(self) -> float | None:
        """Created → RUN_START: the queue plus the new run-worker process loading the code location."""
        return self.started - self.created if self.started else None


def wait_for_assets(instance, assets: list[str], since: float, timeout: float) -> dict[str, float]:
    """Block until each asset has a materialisation after `since`; return seconds to the first of each."""
    deadline = time.time() + timeout
    first: dict[str, float] = {}
    while time.time() < deadline:
        for ts, asset, _ in materialised_since(instance, since):
            first.setdefault(asset, ts - since)
        if all(a in first for a in assets):
            return first
        time.sleep(1)
    missing = [a for a in assets if a not in first]
    raise TimeoutError(f"no fresh {', '.join(missing)} within {timeout:.0f} s (got {sorted(first)})")


def wait_idle(instance, quiet_for: float, timeout: float) -> None:
    """Nothing queued, running or backfilling for `quiet_for` s: later runs caused by the change are counted."""
    last, deadline = time.time(), time.time() + timeout
    while time.time() < deadline:
        if busy(instance):
            last = time.time()
        elif time.time() - last >= quiet_for:
            return
        time.sleep(1)
    raise TimeoutError(f"still busy after {timeout:.0f} s")


def repeated_partitions(instance, since: float) -> dict[str, int]:
    """`asset[partition]` -> materialisations after `since`, for those materialised more than once."""
    counts = Counter(f"{asset}[{part}]" if part else asset for _, asset, part in materialised_since(instance, since))
    return {k: n for k, n in sorted(counts.items()) if n > 1}


def _tick_for(run_id: str, ticks: list[tuple[str, dict]], backfill_at: float | None) -> tuple[str, float | None]:
    """The sensor tick that asked for a run: the tick listing it, or the last requesting tick before its backfill."""
    for name, tick in ticks:
        if run_id in (tick.get("runIds") or []):
            return name, tick["timestamp"]
    if backfill_at is not None:
        before = [(t["timestamp"], n) for n, t in ticks
                  if t["timestamp"] <= backfill_at and t.get("requestedAssetMaterializationCount")]  # fmt: skip
        if before:
            ts, name = max(before)
            return f"{name} (backfill)", ts
        return "backfill", backfill_at
    return "-", None


def run_hops(instance, since: float, sensors: list[dict]) -> list[Hop]:
    """Every run created after `since`, oldest first, with its hops."""
    ticks = [(s["name"], t) for s in sensors for t in s["sensorState"]["ticks"] if t["timestamp"] >= since - 60]
    records = instance.get_run_records(
        filters=dg.RunsFilter(created_after=datetime.fromtimestamp(since, tz=UTC)), ascending=True
    )
    hops = []
    for record in records:
        run = record.dagster_run
        times: dict[dg.DagsterEventType, float] = {}
        for entry in instance.all_logs(run.run_id, of_type=_HOPS):
            times.setdefault(entry.dagster_event.event_type, entry.timestamp)
        backfill = run.tags.get("dagster/backfill")
        backfill_at = None
        if backfill and (bf := instance.get_backfill(backfill)) is not None:
            backfill_at = bf.backfill_timestamp
        trigger, requested = _tick_for(run.run_id, ticks, backfill_at)
        assets = sorted(k.to_user_string() for k in (run.asset_selection or []))
        span = (run.tags.get("dagster/asset_partition_range_start"), run.tags.get("dagster/asset_partition_range_end"))
        where = f"[{span[0]}..{span[1]}]" if span[0] else (f"[{run.tags['dagster/partition']}]"
                                                          if "dagster/partition" in run.tags else "")  # fmt: skip
        ended = times.get(dg.DagsterEventType.RUN_SUCCESS) or times.get(dg.DagsterEventType.RUN_FAILURE)
        hops.append(Hop(run.run_id, f"{','.join(assets) or run.job_name}{where}", trigger, requested,
                        record.create_timestamp.timestamp(), times.get(dg.DagsterEventType.RUN_DEQUEUED),
                        times.get(dg.DagsterEventType.RUN_START), times.get(dg.DagsterEventType.STEP_START),
                        ended))  # fmt: skip
    return hops


def _s(value: float | None) -> str:
    return f"{value:6.1f}" if value is not None else "     -"


def print_hops(hops: list[Hop], since: float) -> None:
    """One line per run: the hop durations in seconds, and the gap to the next run's creation."""
    print("    created  tick→created  created→dequeued  dequeued→started  work(step→end)  gap→next  run")
    for i, h in enumerate(hops):
        gap = hops[i + 1].created - h.ended if i + 1 < len(hops) and h.ended else None
        print(f"    {_s(h.created - since)}  {_s(h.created - h.requested if h.requested else None)}        "
              f"{_s(h.dequeued - h.created if h.dequeued else None)}            "
              f"{_s(h.started - h.dequeued if h.started and h.dequeued else None)}            "
              f"{_s(h.ended - h.first_step if h.ended and h.first_step else None)}        {_s(gap)}  "
              f"{h.what[:70]} ({h.trigger})")  # fmt: skip


def median_worker_start(hops: list[Hop]) -> float | None:
    values = [h.worker_start for h in hops if h.worker_start is not None]
    return statistics.median(values) if values else None


def print_repeated(repeated: dict[str, int]) -> None:
    shown = ", ".join(f"{k} x{n}" for k, n in list(repeated.items())[:12])
    more = " ..." if len(repeated) > 12 else ""
    print(f"    partitions materialised more than once: {len(repeated)}" + (f" ({shown}{more})" if repeated else ""))
