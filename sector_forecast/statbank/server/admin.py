"""Admin operations of the local StatBank server: make DST's release events happen on demand.

`publish` appends the next period with the same seeded generator that built the snapshot (so a demo or a
test sees the same new month every time), `revise` changes one cell, `close` retires a table the way DST
retired KONK4. Each bumps `updated`, which is what a pipeline watching DST's release rhythm keys on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from sector_forecast.statbank.server.synth import synth_period
from sector_forecast.statbank.server.tables import next_period
from sector_forecast.statbank.snapshot import TableState


def _bump(state: TableState, candidate: datetime | None = None) -> None:
    """Move `updated` forward: to `candidate` (or now), but always strictly past the previous stamp."""
    old = datetime.fromisoformat(state.meta["updated"])
    new = max(candidate or datetime.now().replace(microsecond=0), old + timedelta(seconds=1))
    state.meta["updated"] = state.info["updated"] = new.isoformat(timespec="seconds")


def _release_time(period: str) -> datetime:
    """When DST would publish `period`: 08:00 a week into the next month, or mid-June two years on."""
    if "M" in period:
        year, month = int(period[:4]), int(period[5:])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return datetime(year, month, 7, 8)
    return datetime(int(period[:4]) + 2, 6, 13, 8)


def _meta(state: TableState) -> dict:
    return dict(state.meta)


def publish(
    state: TableState, seed: int, period: str | None = None, values: list[dict] | None = None
) -> dict:
    """Append `period` (default: the one after latestPeriod); `values` override generated cells.

    Each item of `values` maps variable ids (any case; `Tid` optional) to codes plus `INDHOLD` to the value
    (a string such as `..` or `abc` is stored as given, so tests can publish a bad cell).
    """
    period = period or next_period(state.meta["latestPeriod"])
    if period in set(state.data["TID"]):
        raise ValueError(f"{state.id}: period {period} is already published")
    new = synth_period(state.id, state.data, period, seed)
    for item in values or []:
        _set_cell(state.id, new, {**item, "TID": period}, item.get("INDHOLD", item.get("value")))
    state.data = pd.concat([state.data, new[state.data.columns]], ignore_index=True)
    state.time_variable["values"].append({"id": period, "text": period})
    state.meta["latestPeriod"] = period
    _bump(state, _release_time(period))
    state.sort()
    return _meta(state)


def _set_cell(table: str, frame: pd.DataFrame, cell: dict, value: object) -> None:
    cell = {str(k).upper(): str(v) for k, v in cell.items() if str(k).upper() not in ("INDHOLD", "VALUE")}
    unknown = [k for k in cell if k not in frame.columns]
    if unknown or value is None:
        raise ValueError(f"{table}: bad cell {cell} (unknown variables {unknown} or no value)")
    mask = pd.Series(True, index=frame.index)
    for col, code in cell.items():
        mask &= frame[col] == code
    if int(mask.sum()) != 1:
        raise ValueError(f"{table}: cell {cell} matches {int(mask.sum())} rows, expected 1")
    frame.loc[mask, "INDHOLD"] = value if isinstance(value, str) else f"{value:g}"


def revise(state: TableState, cell: dict[str, str], value: str | float | int) -> dict:
    """Change one published cell (all variables must be given); `..` suppresses it."""
    _set_cell(state.id, state.data, cell, value)
    _bump(state)
    return _meta(state)


def close(state: TableState, successor: str | None = None) -> dict:
    """Retire the table: still answers, but `active` is false and it will not move again."""
    state.meta["active"] = state.info["active"] = False
    if successor:
        note = f"Discontinued, replaced by {successor}."
        state.info["footnote"] = f"{state.info.get('footnote') or ''} {note}".strip()
    _bump(state)
    return _meta(state)


SERVER = "local server (`sector-forecast statbank serve`)"


def published_row(table: str, period: str) -> dict[str, str]:
    """The provenance of a period `publish` generated: every cell of it synthetic."""
    return {"table": table, "selection": "all cells", "periods": period, "status": "synthetic",
            "method": "published on the local server by its seeded generator", "source": SERVER}


def revised_row(table: str, cell: dict[str, str]) -> dict[str, str]:
    """The provenance of a cell `revise` changed: synthetic, whatever it was (names exactly that cell)."""
    codes = {str(k).upper(): str(v) for k, v in cell.items()}
    period = codes.pop("TID", "")
    return {"table": table, "selection": ";".join(f"{k}={v}" for k, v in codes.items()), "periods": period,
            "status": "synthetic", "method": "revised on the local server", "source": SERVER}
