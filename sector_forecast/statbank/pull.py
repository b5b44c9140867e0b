"""Download the live tables into the snapshot layout, replacing the reconstructed snapshot with real data.

Goes through `StatBankClient` (same checks as the pipeline), builds the new snapshot in a scratch directory
and swaps it in only when every table arrived intact.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sector_forecast.statbank.client import StatBankClient
from sector_forecast.statbank.errors import StatBankBadResponse
from sector_forecast.statbank.snapshot import TableState, swap_in_directory, write_snapshot_files

TABLES = ("KONK4", "KONK25", "DEMO14")
LIVE_URL = "https://api.statbank.dk/v1"


def download_table(client: StatBankClient, meta: dict) -> TableState:
    """One table in full: tableinfo, then BULK with `*` for every variable."""
    table = meta["id"]
    info = client.tableinfo(table)
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
    """Download `tables` from `url` and swap them into `out_dir` (provenance: every cell `real`)."""
    client = client or StatBankClient(base_url=url)
    states = [download_table(client, meta) for meta in client.tables(list(tables))]
    stamp = (today or date.today()).isoformat()
    provenance = [
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
    swap_in_directory(lambda tmp: write_snapshot_files(tmp, states, provenance), out_dir)
    return states
