"""Download the tables into the snapshot layout, with the provenance the source states.

Goes through `StatBankClient` (same checks as the pipeline), builds the new snapshot in a scratch directory
and swaps it in only when every table arrived intact. From DST's API every cell is real; from a local server
that serves a snapshot, the served provenance rows are written as they are (and the server's note is taken
out of each footnote again), so pulling a served snapshot gives back that snapshot, provenance included.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sector_forecast.statbank.client import StatBankClient
from sector_forecast.statbank.errors import StatBankBadResponse
from sector_forecast.statbank.provenance import SERVED_NOTE
from sector_forecast.statbank.snapshot import TableState, swap_in_directory, write_snapshot_files

TABLES = ("KONK4", "KONK25", "DEMO14")
LIVE_URL = "https://api.statbank.dk/v1"


def download_table(client: StatBankClient, meta: dict) -> TableState:
    """One table in full: tableinfo, then BULK with `*` for every variable."""
    table = meta["id"]
    info = client.tableinfo(table)
    if SERVED_NOTE in str(info.get("footnote") or ""):  # the server's, not the table's: see provenance_rows
        info["footnote"] = str(info["footnote"]).replace(SERVED_NOTE, "").strip()
        if not info["footnote"]:
            del info["footnote"]
    frame = client.data(table, {v["id"]: ["*"] for v in info["variables"]})
    columns = [v["id"].upper() for v in info["variables"]]
    if list(frame.columns[: len(columns)]) != columns:
        raise StatBankBadResponse(
            table, f"BULK columns {list(frame.columns)} do not follow tableinfo {columns}"
        )
    cells = frame[[*columns, "INDHOLD"]].copy()
    cells["INDHOLD"] = [
        ".." if s else (f"{v:.0f}" if float(v).is_integer() else repr(float(v)))
        for v, s in zip(frame["INDHOLD"], frame["suppressed"], strict=True)
    ]
    state = TableState(meta=meta, info=info, data=cells.astype(str))
    state.sort()
    return state


def pull(
    out_dir: Path,
    url: str = LIVE_URL,
    tables: tuple[str, ...] = TABLES,
    client: StatBankClient | None = None,
    today: date | None = None,
) -> list[TableState]:
    """Download `tables` from `url` and swap them into `out_dir` with the provenance the source states."""
    client = client or StatBankClient(base_url=url)
    states = [download_table(client, meta) for meta in client.tables(list(tables))]
    served = client.provenance_rows([s.id for s in states])
    provenance = _all_real(client, states, today) if served is None else served
    swap_in_directory(lambda tmp: write_snapshot_files(tmp, states, provenance), out_dir)
    return states


def _all_real(client: StatBankClient, states: list[TableState], today: date | None) -> list[dict[str, str]]:
    """DST's API states no provenance: every cell of every table is one of its own figures."""
    stamp = (today or date.today()).isoformat()
    return [
        {
            "table": s.id,
            "selection": "all cells",
            "periods": f"{s.meta['firstPeriod']}-{s.meta['latestPeriod']}",
            "status": "real",
            "method": f"downloaded with `sector-forecast statbank pull` on {stamp}",
            "source": f"{client.source} ({stamp})",
        }
        for s in states
    ]
