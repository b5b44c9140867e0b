"""The code location's one notion of "now": the wall clock, or `SECTOR_FORECAST_NOW` for demos, tests and replays.

Everything that asks the calendar goes through `now()`: the partitions' ends (`partitions.py`, and through them
the publication sensor, the pipeline's stage ranges and automation), the freshness checks and sensor, the
safety-net schedules and the release calendar (`releases.expected_latest_period`). Set
`SECTOR_FORECAST_NOW=2027-01-05` (an ISO date, or a datetime; naive means UTC) and the whole code location
behaves as on that date: the newest partition of every time-partitioned asset is the last window completed
by then, and the freshness deadlines are computed from it.

Partition definitions are built at import, so the variable must be set before the process imports
`sector_forecast` (a shell `export`, a subprocess's env, or `dagster dev`, which passes its env to the code
server). Inside one process, `defs.partitions.pinned(at)` moves the override and Dagster's partition loading context
together; the partitions' import-time end still caps it (a code location replaying 2026 never sees 2027),
and a process started with an override ahead of the wall clock cannot be pinned earlier (see `partitions`).

Decisions about data ("newest fitted origin", "latest published period") must not come from here: they are
read from the instance or the data.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

ENV_VAR = "SECTOR_FORECAST_NOW"


def parse(text: str) -> datetime:
    """An ISO date (`2027-01-05`, midnight UTC) or datetime (`2027-01-05T10:00`, naive = UTC) as aware UTC."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{ENV_VAR}={text!r} is not an ISO date or datetime (e.g. 2027-01-05 or 2027-01-05T10:00)"
        ) from None
    return _aware(moment)


def override() -> datetime | None:
    """The pinned "now" from `SECTOR_FORECAST_NOW`, or None on the wall clock. Read at every call."""
    raw = os.environ.get(ENV_VAR, "").strip()
    return parse(raw) if raw else None


def now(tick: datetime | None = None) -> datetime:
    """The current moment, tz-aware UTC: the override if set, else `tick` (a moment Dagster attributes to this
    evaluation, e.g. a schedule's `scheduled_execution_time`), else the system clock.
    """
    pinned = override()
    if pinned is not None:
        return pinned
    return _aware(tick) if tick is not None else wall()


def wall() -> datetime:
    """The system clock, ignoring the override: only to compare the override with (`defs/partitions.py`)."""
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as in Dagster's partition definitions here); aware ones are converted."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
