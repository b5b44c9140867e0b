"""DST's release rhythm and what changed between two looks at a table: the pure logic of the sensors.

No Dagster here. The publication sensor remembers, per watched table, the `tables` entry it last acted on
(`updated`, `latestPeriod`, `active`) and one content hash per period of a recent window. Comparing a new
look with that memory names exactly the partitions to re-pull:

- periods newer than the remembered `latestPeriod` (DST published a month or a year);
- remembered periods whose cells now hash differently (DST revised published figures; DST bumps `updated`
  when it does, so the window is only pulled when `updated` moved);
- nothing for a closed table (`active: false`): it is reported, never polled for data.

The freshness side answers "which period should DST have published by now?" from the release rhythm.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from sector_forecast.domain.periods import month_of_start, month_start
from sector_forecast.domain.sectors import ACTIVE_ENTERPRISES

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
_MONTH = re.compile(r"^\d{4}M(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^\d{4}$")


class ReleaseAnomaly(ValueError):
    """StatBank answered, but the answer contradicts itself or the past (treated like a bad response)."""


@dataclass(frozen=True)
class WatchedTable:
    """A StatBank table behind one raw asset, selected exactly as the raw asset selects it."""

    table: str
    asset: str
    job: str
    frequency: str  # "month" | "year"
    selection: Mapping[str, Sequence[str]]  # every non-time variable
    window: int  # periods hashed back from latestPeriod: revisions older than this are not looked for
    successor: str | None = None  # known successor, used when DST's footnote does not name one
    due_rule: str = ""

    def window_start(self, latest: str) -> str:
        """First period of the hashed window ending at `latest`."""
        if self.frequency == "year":
            return str(int(latest) - self.window + 1)
        start = pd.Period(month_start(latest), freq="M") - (self.window - 1)
        return f"{start.year}M{start.month:02d}"

    def check_period(self, period: str) -> None:
        pattern = _YEAR if self.frequency == "year" else _MONTH
        if not isinstance(period, str) or not pattern.match(period):
            raise ReleaseAnomaly(f"{self.table}: latestPeriod {period!r} is not a {self.frequency} code")


# KONK windows: three years of months, the span DST revises in practice (revisions of older months are
# picked up by re-running a quarter range, see docs/automation.md). DEMO14 is small: every year is hashed.
WATCHED: tuple[WatchedTable, ...] = (
    WatchedTable("KONK25", "konk25_raw", "konk25_job", "month",
                 {"BRANCHE25": ["*"], "VIRKTYP1": [ACTIVE_ENTERPRISES]}, window=36,
                 due_rule="a month is due by the 10th of the next month, 12:00 Copenhagen (DST publishes "
                          "about a week after the month, at 08:00)"),
    WatchedTable("KONK4", "konk4_raw", "konk4_job", "month",
                 {"BRANCHE": ["*"], "VIRKTYP1": [ACTIVE_ENTERPRISES]}, window=36, successor="KONK25"),
    WatchedTable("DEMO14", "demo14_raw", "demo14_job", "year",
                 {"REGION": ["000"], "BRANCHEDB0710": ["*"], "MÆNGDE4": ["*"]}, window=12,
                 due_rule="year Y is due by 30 June of Y+2, 12:00 Copenhagen (DST publishes mid-June)"),
)
WATCHED_BY_TABLE: dict[str, WatchedTable] = {w.table: w for w in WATCHED}


@dataclass
class TableMemory:
    """What the sensor last acted on for one table (one entry of its cursor)."""

    updated: str
    latest: str
    active: bool
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass
class TableChange:
    """One table's verdict for one tick."""

    table: str
    new_periods: list[str] = field(default_factory=list)
    revised_periods: list[str] = field(default_factory=list)
    newly_closed: bool = False
    note: str = ""

    @property
    def periods(self) -> list[str]:
        return sorted({*self.new_periods, *self.revised_periods})


def period_hashes(frame: pd.DataFrame) -> dict[str, str]:
    """A short content hash per period (`TID`) over its cells, independent of row order.

    Suppressed cells (`..`) hash differently from any number, so suppressing or un-suppressing a cell is a
    revision too.
    """
    codes = [c for c in frame.columns if c not in ("TID", "INDHOLD", "suppressed")]
    out: dict[str, str] = {}
    for period, part in frame.groupby("TID", sort=True):
        values = part["INDHOLD"].map(lambda v: ".." if pd.isna(v) else repr(float(v)))
        columns = [*(part[c].astype(str) for c in codes), values]
        lines = sorted(";".join(row) for row in zip(*columns, strict=True))
        out[str(period)] = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    return out


def needs_pull(before: TableMemory | None, meta: Mapping) -> bool:
    """Pull the window on the first look, when `updated` moved, or when a closed table came back."""
    return before is None or before.updated != str(meta["updated"]) or not before.active


def diff_table(
    watch: WatchedTable,
    before: TableMemory | None,
    meta: Mapping,
    hashes: Mapping[str, str] | None,
    materialised_latest: str | None = None,
) -> tuple[TableChange, TableMemory]:
    """Compare a new look at a table with the memory; return the verdict and the new memory.

    `hashes` is None when the window was not pulled (nothing moved, or the table is closed). On the first
    look there is no memory: periods after `materialised_latest` (the newest partition the instance holds,
    as a DST period) count as new, and the hashes become the baseline for later revisions.
    """
    latest, updated, active = str(meta["latestPeriod"]), str(meta["updated"]), bool(meta["active"])
    watch.check_period(latest)
    change = TableChange(watch.table)
    if not active:
        change.newly_closed = before is None or before.active
        kept = before.hashes if before else {}
        return change, TableMemory(updated, latest, False, dict(kept))
    if before is not None and latest < before.latest:
        raise ReleaseAnomaly(f"{watch.table}: latestPeriod went back from {before.latest} to {latest}")
    if hashes is None:
        if before is None:
            raise ValueError("hashes are required on the first look at a table")
        return change, TableMemory(updated, latest, True, dict(before.hashes))
    if latest not in hashes:
        raise ReleaseAnomaly(f"{watch.table}: tables says latestPeriod {latest}, but no data has it")
    if before is None:
        change.new_periods = [p for p in hashes if materialised_latest and p > materialised_latest]
        change.note = "first look: content hashes recorded as the baseline"
    else:
        change.new_periods = [p for p in hashes if p > before.latest]
        change.revised_periods = [
            p for p, h in hashes.items()
            if p <= before.latest and p in before.hashes and before.hashes[p] != h
        ]
        if not change.periods:
            change.note = f"updated moved to {updated}, content of {len(hashes)} periods unchanged"
    return change, TableMemory(updated, latest, True, dict(hashes))


def successor_from_info(info: Mapping, fallback: str | None) -> str | None:
    """DST names a closed table's replacement in its footnote ("... replaced by KONK25.")."""
    found = re.search(r"replaced by\s+([A-Z][A-Z0-9]+)", str(info.get("footnote") or ""), re.IGNORECASE)
    return found.group(1).upper() if found else fallback


def closure_message(table: str, meta: Mapping, successor: str | None) -> str:
    return (
        f"{table} is closed by DST (active=false, last period {meta['latestPeriod']}, updated "
        f"{meta['updated']}); {'successor ' + successor if successor else 'no successor named'} — "
        "no longer polled for data."
    )


# ---- cursor ----------------------------------------------------------------------------------------------
def dump_memory(memory: Mapping[str, TableMemory]) -> dict:
    return {"v": 1, "tables": {t: asdict(m) for t, m in memory.items()}}


def load_memory(doc: Mapping | None) -> dict[str, TableMemory]:
    if not doc or doc.get("v") != 1:
        return {}
    return {t: TableMemory(**m) for t, m in doc.get("tables", {}).items()}


# ---- partitions --------------------------------------------------------------------------------------------
def period_to_key(watch: WatchedTable, period: str) -> str:
    """DST period code -> partition key (`2026M10` -> `2026-10-01`, `2024` -> `2024`)."""
    return period if watch.frequency == "year" else month_start(period)


def key_to_period(watch: WatchedTable, key: str) -> str:
    return key if watch.frequency == "year" else month_of_start(key)


def contiguous_ranges(keys: Sequence[str], all_keys: Sequence[str]) -> list[tuple[str, str]]:
    """Group partition keys into runs of neighbours in `all_keys` order: one single-run backfill each."""
    index = {k: i for i, k in enumerate(all_keys)}
    ordered = sorted((k for k in set(keys) if k in index), key=index.__getitem__)
    ranges: list[tuple[str, str]] = []
    for key in ordered:
        if ranges and index[key] == index[ranges[-1][1]] + 1:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


# ---- release rhythm (freshness) ----------------------------------------------------------------------------
def expected_latest_period(frequency: str, now: datetime) -> tuple[str, datetime]:
    """The newest period DST should have published by `now`, and the deadline that made it due.

    Months: month M is due by the 10th of M+1 at 12:00 Copenhagen (DST publishes about the 7th, 08:00).
    Years: year Y is due by 30 June of Y+2 at 12:00 Copenhagen (DEMO14 appears mid-June of Y+2).
    """
    local = now.astimezone(COPENHAGEN)
    if frequency == "year":
        deadline = datetime(local.year, 6, 30, 12, tzinfo=COPENHAGEN)
        if local < deadline:
            deadline = deadline.replace(year=local.year - 1)
        return str(deadline.year - 2), deadline
    deadline = datetime(local.year, local.month, 10, 12, tzinfo=COPENHAGEN)
    if local < deadline:
        prev = pd.Period(f"{local.year}-{local.month:02d}", freq="M") - 1
        deadline = datetime(prev.year, prev.month, 10, 12, tzinfo=COPENHAGEN)
    due = pd.Period(f"{deadline.year}-{deadline.month:02d}", freq="M") - 1
    return f"{due.year}M{due.month:02d}", deadline
