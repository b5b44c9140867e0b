"""Provenance as numbers: which share of a snapshot table's cells is real, approximate or synthetic (issue 12).

`provenance.csv` describes groups of cells in words (`table, selection, periods, status, ...`). This module
turns those rows into one status per cell of `<TABLE>/data.csv`, so a report can say "0.3 % of the cells
the model learns from are real" instead of pointing at a README.

Rules (read off `data/snapshot_tools/konk.py`, `demo14.py` and `pull.py`):

1. A row *names* cells through `VAR=codes` parts joined by `;` (codes comma-separated, `a..b` a numeric
   range such as `1..10` or `081..085`) and through its `periods` (comma/semicolon list, `a-b` a range of
   the same frequency). A part without `=` that starts with `all` ("all cells", "all other cells (...)",
   "all") constrains nothing. Words after a code ("OMS and AFU not listed above") are commentary.
2. A row whose selection describes a *sum* ("BRANCHE=1..10 summed", "sum of the ten sector groups",
   "(quarter sums)") classifies no cell: the sum is not a cell of the table, and its members' values are
   a seeded split of it. So KONK4/KONK25 sector cells are not "approximate" just because their total over
   sectors 1-10 is chart-digitized, and the months inside sector 1's exact quarter sums stay synthetic.
3. Periods only match cells of the same frequency, so quarter codes (2009K1) never match months (2009M01).
4. When several rows name a cell, the row naming the fewest cells wins (specific beats catch-all); ties go
   to the later row. Hence "all other cells ... synthetic" never overrides a named real cell.
5. A row naming a cell applies its status to it. DEMO14's per-cell `approx_digitized_pmN` rows are chart
   reads of the cell itself, so those cells are approximate; DEMO14 sector 11 NYE 2021/2022 (real total
   minus partly digitized sectors) is named directly as approximate and stays approximate.
6. A cell no row names is synthetic. A snapshot pulled from DST's API has one `all cells` row per table
   with status `real`, so every cell of it is real.

Where the rows come from: a snapshot's `provenance.csv`; from a URL, the provenance document a local server
serves (`/v1/provenance`, announced by `SERVED_NOTE` in each tableinfo footnote, extended by the server's
`publish` and `revise`). A source that announces none — DST's own API — serves real cells only.

Only `snapshot` is imported from this package (no dagster, mlflow or `sector_forecast.domain`), so the
ten-sector code lists are repeated here; a test checks them against `sector_forecast.domain.sectors`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sector_forecast.statbank.snapshot import SUPPRESSED, read_provenance

STATUSES = ("real", "approximate", "synthetic")
UNCOVERED = "synthetic"
ALL_REAL = {"real": 1.0, "approximate": 0.0, "synthetic": 0.0}
# What a local server appends to every tableinfo footnote: the statement that its cells are a snapshot's,
# and where their provenance is. DST's API never says it, so a source without it serves real cells.
PROVENANCE_ENDPOINT = "provenance"
SERVED_NOTE = (
    "Served from a snapshot by a local StatBank stand-in, not by DST: cell provenance at /v1/provenance."
)
_TEN = tuple(str(s) for s in range(1, 11))
# The cells the models learn from (see `assets/raw.py` and `domain/panel.py`): active-enterprise (K02)
# bankruptcies of the codes mapped to the ten sectors (KONK25's GHI is sector 4; its sub-groups G..I56 are
# never added, so they are not learned from), and DEMO14 new enterprises for all Denmark, sectors 1-10.
MODEL_CELLS: dict[str, dict[str, tuple[str, ...]]] = {
    "KONK4": {"BRANCHE": _TEN, "VIRKTYP1": ("K02",)},
    "KONK25": {
        "BRANCHE25": ("A", "BCDE", "F", "GHI", "JK", "L", "M", "NO", "PQR", "STUV"),
        "VIRKTYP1": ("K02",),
    },
    "DEMO14": {"REGION": ("000",), "MÆNGDE4": ("NYE",), "BRANCHEDB0710": _TEN},
}
Selection = str | Mapping[str, Mapping[str, Collection[str]]]

_SUM = re.compile(r"\bsum(s|med)?\b", re.IGNORECASE)
_CODE_RANGE = re.compile(r"(\d+)\.\.(\d+)")
_PERIOD = re.compile(r"\d{4}([A-Z]?)\d*")


def _codes(text: str) -> set[str]:
    """`4,G,1..3` -> {"4", "G", "1", "2", "3"}; words after a code are commentary and dropped."""
    out: set[str] = set()
    for item in text.split(","):
        token = item.strip().split(" ")[0]
        rng = _CODE_RANGE.fullmatch(token)
        if rng:
            lo, hi = rng.groups()
            width = len(lo) if lo.startswith("0") else 0
            out.update(str(i).zfill(width) for i in range(int(lo), int(hi) + 1))
        elif token:
            out.add(token)
    return out


def _period_mask(tid: pd.Series, periods: str) -> np.ndarray:
    """Cells whose TID is one of `periods` (`a`, `a-b`, comma/semicolon separated; same frequency only)."""
    if not periods.strip():
        return np.ones(len(tid), dtype=bool)
    kind = tid.str.extract(_PERIOD.pattern, expand=False).fillna("?").to_numpy()
    values = tid.to_numpy()
    mask = np.zeros(len(tid), dtype=bool)
    for item in re.split(r"[;,]", periods):
        lo, _, hi = (s.strip() for s in item.partition("-"))
        hi = hi or lo
        m_lo, m_hi = _PERIOD.fullmatch(lo), _PERIOD.fullmatch(hi)
        if not (m_lo and m_hi and m_lo.group(1) == m_hi.group(1)):
            raise ValueError(f"provenance periods {periods!r}: cannot read {item!r}")
        mask |= (kind == m_lo.group(1)) & (values >= lo) & (values <= hi)
    return mask


def _row_mask(frame: pd.DataFrame, row: dict[str, str], table: str) -> np.ndarray | None:
    """Cells a provenance row names (rule 1-3), or None when the row describes a sum, not cells."""
    selection = row.get("selection") or ""
    if _SUM.search(selection):
        return None
    mask = _period_mask(frame["TID"], row.get("periods") or "")
    for part in filter(None, (p.strip() for p in selection.split(";"))):
        var, eq, codes = part.partition("=")
        if not eq:
            if part.lower().startswith("all"):
                continue
            raise ValueError(f"{table}: provenance selection part {part!r} has no VAR=codes")
        col = var.strip().upper()
        if col not in frame.columns:
            raise ValueError(f"{table}: provenance selection names {col!r}, not a column of data.csv")
        mask &= frame[col].isin(_codes(codes)).to_numpy()
    return mask


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat() if path.exists() else None
    return (st.st_mtime_ns, st.st_size) if st else (0, -1)


def classify(cells: pd.DataFrame, rows: Iterable[Mapping[str, str]], table: str) -> pd.DataFrame:
    """`cells` (classification columns and TID) plus `status` and `provenance_row`, by the module's rules.

    `rows` are all provenance rows (any table); `provenance_row` is the 0-based index of the deciding row.
    """
    cells = cells.reset_index(drop=True).copy()
    marked: list[tuple[int, int, np.ndarray, str]] = []
    for i, row in enumerate(rows):
        if row.get("table") != table:
            continue
        status = (row.get("status") or "").strip()
        if status not in STATUSES:
            raise ValueError(f"{table}: provenance row {i} has status {status!r}, not one of {STATUSES}")
        mask = _row_mask(cells, dict(row), table)
        if mask is not None and mask.any():
            marked.append((int(mask.sum()), i, mask, status))
    status_col = np.full(len(cells), UNCOVERED, dtype=object)
    source_row = np.full(len(cells), -1, dtype=np.int64)
    for _, i, mask, status in sorted(marked, key=lambda m: (-m[0], m[1])):  # broad first, specific last
        status_col[mask] = status
        source_row[mask] = i
    cells["status"] = status_col
    cells["provenance_row"] = source_row
    return cells


@lru_cache(maxsize=32)
def _classified(snapshot_dir: Path, table: str, data_stamp: tuple, prov_stamp: tuple) -> pd.DataFrame:
    """Cache key includes both files' (mtime, size), so a rewritten snapshot is read again."""
    data = pd.read_csv(snapshot_dir / table / "data.csv", sep=";", dtype=str, keep_default_na=False)
    cells = classify(data.drop(columns="INDHOLD"), read_provenance(snapshot_dir), table)
    cells["suppressed"] = (data["INDHOLD"] == SUPPRESSED).to_numpy()
    return cells


def cell_provenance(snapshot_dir: Path, table: str) -> pd.DataFrame:
    """One row per cell of `<table>/data.csv`: classification columns, TID, `status`, `provenance_row`.

    `provenance_row` is the 0-based data row of provenance.csv that decided the status (-1: no row named
    the cell, so it is synthetic); `suppressed` marks `..` cells. See the module docstring for the rules.
    """
    snapshot_dir = Path(snapshot_dir).resolve()
    data_path = snapshot_dir / table / "data.csv"
    if not data_path.is_file():
        raise FileNotFoundError(f"{table}: snapshot has no {data_path}")
    stamps = (_stamp(data_path), _stamp(snapshot_dir / "provenance.csv"))
    return _classified(snapshot_dir, table, *stamps).copy()


def _selected(cells: pd.DataFrame, table: str, selection: Selection) -> pd.DataFrame:
    if isinstance(selection, str):
        if selection == "all":
            return cells
        if selection != "model":
            raise ValueError(
                f"selection {selection!r}: use 'all', 'model' or a {{table: {{column: codes}}}} map"
            )
        if table not in MODEL_CELLS:
            raise ValueError(f"{table}: no model cells known; pass selection='all' or a column filter")
        filters: Mapping[str, Collection[str]] = MODEL_CELLS[table]
    else:
        filters = selection.get(table, {})
    mask = pd.Series(True, index=cells.index)
    for col, codes in filters.items():
        if col not in cells.columns:
            raise ValueError(f"{table}: selection column {col!r} is not in data.csv")
        mask &= cells[col].isin([str(c) for c in codes])
    return cells[mask]


def _table_ids(snapshot_dir: Path) -> list[str]:
    listing = Path(snapshot_dir) / "tables.json"
    if listing.is_file():
        return [str(t["id"]) for t in json.loads(listing.read_text(encoding="utf-8"))]
    return sorted(p.name for p in Path(snapshot_dir).iterdir() if (p / "data.csv").is_file())


def provenance_shares(
    snapshot_dir: Path, tables: Iterable[str] | None = None, selection: Selection = "model"
) -> dict[str, dict[str, float]]:
    """Per table, the share of selected cells that is real / approximate / synthetic (sums to 1).

    `selection="model"` (default) counts the cells the models learn from (`MODEL_CELLS`: KONK4/KONK25
    K02 rows of the ten sector codes, DEMO14 REGION=000 NYE sectors 1-10), every period in data.csv;
    `"all"` counts every cell of data.csv (aggregates and suppressed cells included); a mapping
    `{table: {column: codes}}` filters each table by its columns (TID included), unlisted tables unfiltered.
    """
    return {
        table: shares_of(cell_provenance(snapshot_dir, table), table, selection)
        for table in (tables if tables is not None else _table_ids(snapshot_dir))
    }


def shares_of(cells: pd.DataFrame, table: str, selection: Selection = "model") -> dict[str, float]:
    """Real / approximate / synthetic shares of the selected rows of classified `cells` (see `classify`)."""
    chosen = _selected(cells, table, selection)
    if chosen.empty:
        raise ValueError(f"{table}: the selection leaves no cells")
    counts = chosen["status"].value_counts()
    return {s: float(counts.get(s, 0)) / len(chosen) for s in STATUSES}


def provenance_summary(shares: Mapping[str, Mapping[str, float]]) -> str:
    """One line for logs and run tags: `KONK25 0.3% real, 0.0% approximate, 99.7% synthetic; DEMO14 ...`."""
    return "; ".join(
        f"{table} " + ", ".join(f"{100 * s.get(k, 0.0):.1f}% {k}" for k in STATUSES)
        for table, s in shares.items()
    )
