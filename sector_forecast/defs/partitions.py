"""Every partitions definition of the graph, defined once and imported everywhere.

Keys: months and quarters are `YYYY-MM-DD` window starts (2024Q1 is `2024-01-01`), years are `YYYY`.
Only completed windows exist, so the newest partition is always a period DST could have published.

"Completed" is judged against `clock.now()`. On the wall clock, Dagster's own current time decides (no `end`).
With `SECTOR_FORECAST_NOW` set, every definition gets `end` = the override (exclusive: a window ending at or
before it exists), so `get_last_partition_key()`, `get_partition_keys()`, the UI and the daemon all stop at
the replayed date. Dagster takes the earlier of `end` and its current time (`_get_last_partition_window`),
so for an override *later* than the wall clock (a demo of next quarter without faketime) the definitions
also get `end_offset` = the windows completed between the wall clock and the override; `end` still caps.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import dagster as dg

from sector_forecast import clock
from sector_forecast.domain import periods

HISTORY_START = "2009-01-01"
# Dagster's run tags for a single run over a partition range (a single-run backfill): set by the CLI's stages,
# the publication sensor and the safety-net schedules alike.
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# The override the definitions were built with, and whether it lies ahead of the wall clock (`end_offset`).
BUILT_AT = clock.override()
BUILT_AHEAD = BUILT_AT is not None and BUILT_AT > clock.wall()


def _ending(
    definition: dg.TimeWindowPartitionsDefinition, closed: datetime | None = None
) -> dg.TimeWindowPartitionsDefinition:
    """`definition` ending at the earlier of `closed` (a closed table) and the clock override."""
    ends = [t for t in (closed, BUILT_AT) if t is not None]
    if not ends:
        return definition
    end = min(ends)
    ahead = 0
    if BUILT_AHEAD:
        ahead = len(definition.get_partition_keys(current_time=end)) - len(
            definition.get_partition_keys(current_time=clock.wall()))
    return dg.TimeWindowPartitionsDefinition(
        start=definition.start, end=end, end_offset=max(ahead, 0), cron_schedule=definition.cron_schedule,
        fmt=definition.fmt, timezone=definition.timezone,
    )


# KONK25 (DB25) is alive and publishes a month about a week after it ends.
monthly_partitions = _ending(dg.MonthlyPartitionsDefinition(start_date=HISTORY_START))

# KONK4 (DB07) was closed on 2026-01-07: its last period is 2025M12.
KONK4_END = datetime(2026, 1, 1, tzinfo=UTC)
konk4_monthly_partitions = _ending(dg.MonthlyPartitionsDefinition(start_date=HISTORY_START), KONK4_END)

# DEMO14 was rebuilt from 2019; year Y is published around June of Y+2.
yearly_partitions = _ending(dg.TimeWindowPartitionsDefinition(
    start="2019", cron_schedule="0 0 1 1 *", fmt="%Y", timezone="UTC"
))

# The quarterly panel and features keep the whole KONK history (2009 on); the reference design dropped it.
quarterly_partitions = _ending(dg.TimeWindowPartitionsDefinition(
    start=HISTORY_START, cron_schedule="0 0 1 */3 *", fmt="%Y-%m-%d", timezone="UTC"
))

# Forecast origins: bankruptcies are forecast from the first origin with three years of training rows
# (2009Q1..2011Q4), so the rolling-origin backtest grades 2012Q1 onwards in real time.
FIRST_ORIGIN = "2012-01-01"
origin_partitions = _ending(dg.TimeWindowPartitionsDefinition(
    start=FIRST_ORIGIN, cron_schedule="0 0 1 */3 *", fmt="%Y-%m-%d", timezone="UTC"
))


def month_key_to_period(key: str) -> str:
    """`2024-01-01` -> `2024M01` (DST's month code)."""
    return periods.month_of_start(key)


def period_to_month_key(period: str) -> str:
    """`2024M01` -> `2024-01-01`."""
    return periods.month_start(period)


def quarter_key_to_label(key: str) -> str:
    """`2024-04-01` -> `2024Q2`."""
    return periods.quarter_of_start(key)


def quarter_label_to_key(label: str) -> str:
    """`2024Q2` -> `2024-04-01`."""
    return periods.quarter_start(label)


@contextmanager
def pinned(at: datetime | str) -> Iterator[datetime]:
    """Within the block, `now()` is `at` and Dagster loads partitions as of `at` (tests, in-process replays).

    Sets `SECTOR_FORECAST_NOW` (so processes started inside inherit it) and enters
    `dg.partition_loading_context(effective_dt=at)`; both are restored on exit.
    """
    moment = clock.parse(at) if isinstance(at, str) else clock.parse(at.isoformat())
    if BUILT_AHEAD and moment < BUILT_AT:
        # Dagster adds end_offset to the effective time, so earlier windows would still be offset.
        raise RuntimeError(
            f"cannot pin {moment:%Y-%m-%d %H:%M} in a process whose partitions were built for a later "
            f"{clock.ENV_VAR}={BUILT_AT:%Y-%m-%d %H:%M} ahead of the wall clock; start it without {clock.ENV_VAR}"
        )
    previous = os.environ.get(clock.ENV_VAR)
    os.environ[clock.ENV_VAR] = moment.isoformat()
    try:
        with dg.partition_loading_context(effective_dt=moment):
            yield moment
    finally:
        if previous is None:
            os.environ.pop(clock.ENV_VAR, None)
        else:
            os.environ[clock.ENV_VAR] = previous
