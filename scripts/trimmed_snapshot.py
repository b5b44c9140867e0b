"""The bundled snapshot less its newest quarter-closing KONK25 month, for a server that can then publish it.

One definition for the tests (an early-quarter pipeline) and `benchmarks/speed.py` (the live publication);
not a test module.
"""

from __future__ import annotations

from pathlib import Path

from sector_forecast.statbank.snapshot import read_provenance, read_snapshot, write_snapshot_files

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "statbank"


def snapshot_without_last_quarter_month(target: Path) -> str:
    """Copy the bundled snapshot into `target` minus KONK25's newest quarter-closing month; return that month."""
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
