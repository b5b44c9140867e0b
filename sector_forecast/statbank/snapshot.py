"""The on-disk snapshot layout: exactly what the StatBank API returns, one folder per table.

```
tables.json             the `tables` answer (lang=en) for the tables we use
<TABLE>/tableinfo.json  the `tableinfo` answer
<TABLE>/data.csv        the full table as `data` returns it in BULK format, valuePresentation=Code, lang=en
provenance.csv          which cells are real, approximate (digitized) or synthetic
```

Every file is written to a temporary file beside it and moved into place, and whole snapshots are swapped
in as a directory, so a reader never sees a half-written snapshot.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SUPPRESSED = ".."
# The bundled snapshot: `data/statbank` of the source tree (the image keeps the same layout).
DEFAULT_SNAPSHOT = Path(__file__).resolve().parents[2] / "data" / "statbank"
PROVENANCE_COLUMNS = ("table", "selection", "periods", "status", "method", "source")


@dataclass
class TableState:
    """One table as the API sees it: its `tables` entry, its `tableinfo` and its cells (as strings)."""

    meta: dict
    info: dict
    data: pd.DataFrame  # columns: upper-case variable ids, TID, INDHOLD; all str

    @property
    def id(self) -> str:
        return str(self.meta["id"])

    @property
    def variables(self) -> list[dict]:
        return list(self.info["variables"])

    @property
    def time_variable(self) -> dict:
        return next(v for v in self.info["variables"] if v.get("time"))

    def column(self, variable_id: str) -> str:
        """BULK header name of a variable: upper case, so `Tid` becomes `TID`."""
        return variable_id.upper()

    def sort(self) -> None:
        """Canonical row order: value order of each variable in tableinfo order (time varies fastest)."""
        keys = []
        for var in self.variables:
            order = {v["id"]: i for i, v in enumerate(var["values"])}
            keys.append(self.data[self.column(var["id"])].map(order))
        frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
        idx = frame.sort_values(list(frame.columns), kind="stable").index
        self.data = self.data.loc[idx].reset_index(drop=True)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write beside the target and `os.replace` it, so no reader sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def json_bytes(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def to_delimited(frame: pd.DataFrame, decimal: str = ".") -> str:
    """`;`-separated text with `\\n` line ends, as DST's BULK/CSV output (no quoting unless needed)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(list(frame.columns))
    rows = frame.astype(str).to_numpy().tolist()
    if decimal != ".":
        last = len(frame.columns) - 1
        for row in rows:
            row[last] = row[last].replace(".", decimal) if row[last] != SUPPRESSED else row[last]
    writer.writerows(rows)
    return out.getvalue()


def read_table(table_dir: Path, meta: dict) -> TableState:
    info = json.loads((table_dir / "tableinfo.json").read_text(encoding="utf-8"))
    data = pd.read_csv(table_dir / "data.csv", sep=";", dtype=str, keep_default_na=False, encoding="utf-8")
    return TableState(meta=meta, info=info, data=data)


def read_snapshot(snapshot_dir: Path) -> dict[str, TableState]:
    """Load every table listed in `tables.json`; a missing file is an error naming the table."""
    snapshot_dir = Path(snapshot_dir)
    listing = json.loads((snapshot_dir / "tables.json").read_text(encoding="utf-8"))
    tables: dict[str, TableState] = {}
    for meta in listing:
        table_dir = snapshot_dir / meta["id"]
        if not (table_dir / "data.csv").is_file():
            raise FileNotFoundError(f"{meta['id']}: snapshot has no {table_dir / 'data.csv'}")
        tables[meta["id"]] = read_table(table_dir, meta)
    return tables


def read_provenance(snapshot_dir: Path) -> list[dict[str, str]]:
    path = Path(snapshot_dir) / "provenance.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_snapshot_files(
    target: Path, tables: Iterable[TableState], provenance: list[dict[str, str]]
) -> None:
    """Write the layout into `target` (an empty or scratch directory)."""
    tables = list(tables)
    atomic_write_bytes(target / "tables.json", json_bytes([t.meta for t in tables]))
    for table in tables:
        atomic_write_bytes(target / table.id / "tableinfo.json", json_bytes(table.info))
        atomic_write_bytes(target / table.id / "data.csv", to_delimited(table.data).encode("utf-8"))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PROVENANCE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(provenance)
    atomic_write_bytes(target / "provenance.csv", out.getvalue().encode("utf-8"))


def swap_in_directory(build, out_dir: Path) -> None:
    """Call `build(tmp_dir)` on a scratch directory beside `out_dir`, then swap it in whole.

    The old snapshot is renamed away only after the new one is complete, so a failure (e.g. the API going
    down mid-pull) leaves the previous snapshot untouched.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.new-"))
    old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        build(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    moved = out_dir.exists()
    if moved:
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        if moved:
            os.replace(old, out_dir)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if moved:
        shutil.rmtree(old, ignore_errors=True)
