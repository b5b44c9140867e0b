"""Are the monitors right when they speak? False alarms on the bundled data, detection of a constructed shift.

    .venv/bin/python benchmarks/forecast_quality.py [--sector 3] [--month 2024M07] [--factor 3] [--keep]

Runs `sector-forecast run` twice, each into an empty `$DAGSTER_HOME`:

1. on the bundled snapshot (`data/statbank`): the false-alarm rate = alarmed quarters / monitored quarters,
   both outside the known shifts (`domain.drift.KNOWN_SHIFTS`, the 2020–21 dip);
2. on a copy in which one sector's KONK25 bankruptcies (active enterprises, K02) are multiplied by `--factor`
   from `--month` on: the detection delay = quarters from the quarter holding `--month` to the first alarm
   (0 = that quarter itself; the target is at most 2). DST's aggregates stay consistent: every nested
   group above the sector (KONK25 GHI = G + H + I, …) and "all enterprises" (K01 = K02 + K03) get the same
   change, and KONK4 (DB07, until 2025M12) gets it too, so the two tables still agree.

Alarm = either monitor (data drift or performance degradation) in a quarter's drift report. The reports are
read from what the graph stored (`<storage>/monitoring/drift_report/<quarter>.json`), through the same
`drift_summary` that `sector-forecast evaluate` prints.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import CLI, REPO, machine

from sector_forecast.domain import drift
from sector_forecast.domain.periods import month_quarter
from sector_forecast.domain.sectors import ACTIVE_ENTERPRISES, KONK4_TO_SECTOR, KONK25_TO_SECTOR, SECTORS
from sector_forecast.reports import monitoring as mr
from sector_forecast.statbank.snapshot import SUPPRESSED, read_provenance, read_snapshot, write_snapshot_files
from sector_forecast_tests.deploy.services import isolated_env

SNAPSHOT = REPO / "data" / "statbank"
ALL_ENTERPRISES = "K01"
# Each table's industry hierarchy: parent -> children (DST publishes the parents as sums of the children).
HIERARCHY: dict[str, tuple[str, dict[str, tuple[str, ...]], dict[str, int]]] = {
    "KONK25": ("BRANCHE25", {"GHI": ("G", "H", "I"), "G": ("G46", "G47"), "I": ("I55", "I56")}, KONK25_TO_SECTOR),
    "KONK4": ("BRANCHE", {"000": tuple(str(c) for c in range(1, 12)), "4": ("G", "H", "I"),
                          "G": ("G01", "G02", "G03"), "I": ("101", "102")}, KONK4_TO_SECTOR),
}


def _leaves(code: str, children: dict[str, tuple[str, ...]]) -> list[str]:
    return [leaf for child in children[code] for leaf in _leaves(child, children)] if code in children else [code]


def _ancestors(code: str, children: dict[str, tuple[str, ...]]) -> list[str]:
    parents = [p for p, kids in children.items() if code in kids]
    return [a for p in parents for a in (p, *_ancestors(p, children))]


def shift_table(data: pd.DataFrame, column: str, children: dict[str, tuple[str, ...]], code: str, month: str,
                factor: float) -> pd.DataFrame:
    """``code``'s active-enterprise counts × ``factor`` from ``month`` on, the change carried to every aggregate.

    Each leaf under ``code`` is scaled (rounded to a count); its change is added to all its ancestors and to
    "all enterprises" of the same cells, so every published sum still adds up. Suppressed cells stay "..".
    """
    out = data.copy()
    index = {(r[column], r["VIRKTYP1"], r["TID"]): i for i, r in out.iterrows()}
    for (leaf_code, kind, tid), i in list(index.items()):
        if kind != ACTIVE_ENTERPRISES or tid < month or leaf_code not in _leaves(code, children):
            continue
        if out.at[i, "INDHOLD"] == SUPPRESSED:
            continue
        old = int(out.at[i, "INDHOLD"])
        delta = int(round(old * factor)) - old
        for target in (leaf_code, *_ancestors(leaf_code, children)):
            for cell_kind in (ACTIVE_ENTERPRISES, ALL_ENTERPRISES):
                j = index.get((target, cell_kind, tid))
                if j is not None and out.at[j, "INDHOLD"] != SUPPRESSED:
                    out.at[j, "INDHOLD"] = str(int(out.at[j, "INDHOLD"]) + delta)
    return out


def shifted_snapshot(target: Path, sector: int, month: str, factor: float) -> Path:
    """A copy of the bundled snapshot with ``sector``'s bankruptcies × ``factor`` from ``month`` (both KONK tables)."""
    tables = read_snapshot(SNAPSHOT)
    for table_id, (column, children, to_sector) in HIERARCHY.items():
        codes = [c for c, s in to_sector.items() if s == sector]
        if table_id in tables and codes:
            table = tables[table_id]
            table.data = shift_table(table.data, column, children, codes[0], month, factor)
    write_snapshot_files(target, tables.values(), read_provenance(SNAPSHOT))
    return target


def run_pipeline(home: Path, snapshot: Path, log: Path) -> float:
    """`sector-forecast run` into ``home`` on ``snapshot``; wall seconds. Fails loudly with the log's tail."""
    import subprocess

    env = isolated_env(DAGSTER_HOME=str(home), SECTOR_FORECAST_SNAPSHOT_DIR=str(snapshot))
    started = time.perf_counter()
    with log.open("wb") as out:
        code = subprocess.run([CLI, "run"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT).returncode
    if code != 0:
        sys.exit(f"sector-forecast run failed (exit {code}) on {snapshot}:\n{log.read_text()[-3000:]}")
    return time.perf_counter() - started


def summary_of(home: Path) -> dict:
    reports = mr.load_reports(home / "storage" / "monitoring" / "drift_report")
    if not reports:
        sys.exit(f"no drift reports under {home}: did monitoring_job run?")
    return drift.drift_summary(reports)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sector", type=int, default=3, choices=sorted(SECTORS),
                        help="sector whose bankruptcies are multiplied (default 3, construction)")
    parser.add_argument("--month", default="2024M07", help="first shifted month, DST code (default 2024M07)")
    parser.add_argument("--factor", type=float, default=3.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary homes and snapshot")
    args = parser.parse_args()
    shift_quarter = month_quarter(args.month)
    print(machine())
    root = Path(tempfile.mkdtemp(prefix="sector-forecast-quality-"))
    try:
        snapshot = shifted_snapshot(root / "snapshot", args.sector, args.month, args.factor)
        seconds = run_pipeline(root / "original", SNAPSHOT, root / "original.log")
        original = summary_of(root / "original")
        seconds_shifted = run_pipeline(root / "shifted", snapshot, root / "shifted.log")
        shifted = summary_of(root / "shifted")
    finally:
        if args.keep:
            print(f"(kept {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)
    delay = drift.detection_delay(shifted, shift_quarter)
    print(f"\nlevels: data drift {drift.DATA_DRIFT_LEVEL:g}, performance {drift.PERFORMANCE_LEVEL:g} a quarter "
          f"(nominal false-alarm rate ≤ {original['nominal_false_alarm_rate']:g})")
    print(f"original snapshot ({seconds:.0f} s): {original['quarters']} quarters "
          f"{original['first_quarter']}..{original['last_quarter']}; excluded as known shifts: "
          f"{', '.join(original['excluded']) or 'none'}")
    print(f"  alarms: {', '.join(original['alarms']) or 'none'} (data drift: "
          f"{', '.join(original['data_drift_alarms']) or 'none'}; performance: "
          f"{', '.join(original['performance_alarms']) or 'none'})")
    rate = original["false_alarm_rate"]
    print(f"  FALSE-ALARM RATE outside known shifts: {len(original['false_alarms'])}/"
          f"{original['quarters'] - len(original['excluded'])} = "
          f"{'n/a' if rate is None else f'{rate:.1%}'} (target ≤ 10%)")
    print(f"shifted snapshot ({seconds_shifted:.0f} s): sector {args.sector} ({SECTORS[args.sector]}) × "
          f"{args.factor:g} from {args.month} (quarter {shift_quarter})")
    after = [q for q in shifted["alarms"] if q >= shift_quarter]
    print(f"  alarms from {shift_quarter}: {', '.join(after[:6]) or 'none'} (data drift: "
          f"{', '.join(q for q in shifted['data_drift_alarms'] if q >= shift_quarter) or 'none'}; performance: "
          f"{', '.join(q for q in shifted['performance_alarms'] if q >= shift_quarter) or 'none'})")
    print(f"  DETECTION DELAY: {'not detected' if delay is None else f'{delay} quarter(s)'} (target ≤ 2)")
    return 0 if rate is not None and rate <= 0.10 and delay is not None and delay <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
