"""The StatBank API as a pure request handler over a snapshot held in memory.

Shared by the local HTTP server and by the in-process snapshot transport (`transport.py`), so both modes run the
same request parsing and answer with the same bytes. Implemented (as DST documents it):

- `/v1/tables`, `/v1/tableinfo[/ID]`, `/v1/data[/ID/FORMAT]`; POST JSON bodies or GET query parameters.
- `tables` lists only active tables unless `includeInactive=true` (DST's default); texts are English only.
- data formats `BULK` (no BOM, streams, no cell cap) and `CSV` (UTF-8 BOM, capped at `cell_limit` cells →
  `REQUEST-LIMIT`); `lang=da` uses a decimal comma; `valuePresentation` Code/Value/CodeAndValue/ValueAndCode.
- `EXTRACT-NOTALLOWED`: BULK without *every* variable of the table (time included) listed with at least one
  value selector; also a non-BULK request that omits a variable that cannot be eliminated, or an
  unsupported format. Omitted eliminable variables in CSV take their total; an omitted time takes `(1)`.
- `EXTRACT-NOTFOUND`: unknown table, variable or exact value code. `EXTRACT-STREAMINGTIMESORT`: `timeOrder`
  with BULK. Errors are JSON `{"errorTypeCode", "message"}` with HTTP 400 (404 for an unknown endpoint).

Not DST's: every `tableinfo` footnote ends with `provenance.SERVED_NOTE`, and `/v1/provenance` answers the
snapshot's provenance rows (JSON, `provenance.csv`'s columns; `tables` filters them), so a client can tell
real cells from reconstructed ones — a label that follows the data, not the URL.

Admin operations (`publish`, `revise`, `close`, `reset`, `set_cell_limit`) mutate the in-memory copy only; the
snapshot on disk is never written. Published periods and revised cells get provenance rows (synthetic).
Injected failures are a test instrument (`sector_forecast_tests/statbank_faults.py`), never this handler's.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from sector_forecast.statbank.provenance import PROVENANCE_ENDPOINT, SERVED_NOTE
from sector_forecast.statbank.server import admin
from sector_forecast.statbank.server.responses import ApiError, Response, error_response, json_response
from sector_forecast.statbank.server.select import SelectionError, select_values
from sector_forecast.statbank.server.tables import ELIMINATION_CODE
from sector_forecast.statbank.snapshot import TableState, read_provenance, read_snapshot, to_delimited

DEFAULT_CELL_LIMIT = 1_000_000
_RESERVED = {
    "lang",
    "format",
    "valuepresentation",
    "timeorder",
    "table",
    "id",
    "tables",
    "includeinactive",
    "subjects",
    "pastdays",
    "delimiter",
    "allowcodeoverrideinformation",
    "allowvariablesinhead",
}


class StatBankApp:
    """Answers StatBank API requests from a snapshot directory (see `snapshot.py` for the layout)."""

    def __init__(self, snapshot_dir: Path, cell_limit: int = DEFAULT_CELL_LIMIT, seed: int = 2026) -> None:
        self.snapshot_dir = Path(snapshot_dir)
        self.seed = seed
        self.default_cell_limit = cell_limit
        self._lock = threading.RLock()
        self.reset()

    # ---- state -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the snapshot on disk: undo publishes/revisions/closures and cell limits."""
        with self._lock:
            self.tables: dict[str, TableState] = read_snapshot(self.snapshot_dir)
            self.provenance: list[dict[str, str]] = read_provenance(self.snapshot_dir)
            self.cell_limit = self.default_cell_limit

    def table(self, table_id: str) -> TableState:
        state = self.tables.get(str(table_id).upper())
        if state is None:
            raise ApiError("EXTRACT-NOTFOUND", f"Table {table_id} not found")
        return state

    def publish(self, table: str, period: str | None = None, values: list[dict] | None = None) -> dict:
        with self._lock:
            meta = admin.publish(self.table(table), self.seed, period, values)
            self.provenance.append(admin.published_row(meta["id"], meta["latestPeriod"]))
            return meta

    def revise(self, table: str, cell: dict[str, str], value: str | float | int) -> dict:
        with self._lock:
            meta = admin.revise(self.table(table), cell, value)
            self.provenance.append(admin.revised_row(meta["id"], cell))
            return meta

    def close(self, table: str, successor: str | None = None) -> dict:
        with self._lock:
            return admin.close(self.table(table), successor)

    def set_cell_limit(self, cells: int) -> dict:
        with self._lock:
            self.cell_limit = int(cells)
            return {"cell_limit": self.cell_limit}

    def admin(self, op: str, payload: dict) -> Response:
        """Dispatch `/admin/<op>` with a JSON payload (used by the HTTP server)."""
        ops = {
            "publish": self.publish,
            "revise": self.revise,
            "close": self.close,
            "reset": lambda: self.reset() or {"reset": True},
            "limit": self.set_cell_limit,
        }
        if op not in ops:
            return error_response("ADMIN-NOTFOUND", f"no admin operation {op!r}", 404)
        try:
            return json_response(ops[op](**payload))
        except ApiError as exc:
            return error_response(exc.code, exc.message, exc.status)
        except (TypeError, ValueError, KeyError) as exc:
            return error_response("ADMIN-BADREQUEST", f"{op}: {exc}")

    # ---- requests ----------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: bytes | None) -> Response:
        """Answer one API request."""
        with self._lock:
            try:
                return self._route(method, path, query, body)
            except ApiError as exc:
                return error_response(exc.code, exc.message, exc.status)

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes | None) -> Response:
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if len(parts) < 2 or parts[0].lower() != "v1":
            raise ApiError("NOTFOUND", f"no such endpoint {path}", 404)
        endpoint, rest = parts[1].lower(), parts[2:]
        params: dict = {k.lower(): v for k, v in query.items()}
        variables = {k: str(v).split(",") for k, v in query.items() if k.lower() not in _RESERVED}
        if method.upper() == "POST" and body:
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ApiError("REQUEST-BADJSON", f"request body is not JSON: {exc}") from None
            params.update({k.lower(): v for k, v in payload.items() if k.lower() != "variables"})
            for var in payload.get("variables") or []:
                values = var.get("values")
                variables[str(var.get("code", ""))] = (
                    [values] if isinstance(values, str) else list(values or [])
                )
        if endpoint == "tables":
            return self._tables(params)
        if endpoint == "tableinfo":
            info = dict(self.table(rest[0] if rest else _table_param(params)).info)
            info["footnote"] = f"{info.get('footnote') or ''} {SERVED_NOTE}".strip()
            return json_response(info)
        if endpoint == PROVENANCE_ENDPOINT:
            return self._provenance(params)
        if endpoint == "data":
            if rest:
                params["table"] = rest[0]
            if len(rest) > 1:
                params["format"] = rest[1]
            return self._data(params, variables)
        raise ApiError("NOTFOUND", f"no such endpoint {path}", 404)

    def _tables(self, params: dict) -> Response:
        wanted = _listed(params, "tables")
        wanted = {str(t).upper() for t in wanted} if wanted else None
        inactive = str(params.get("includeinactive", "false")).lower() == "true"
        rows = [
            t.meta
            for tid, t in self.tables.items()
            if (inactive or t.meta["active"]) and (wanted is None or tid in wanted)
        ]
        return json_response(rows)

    def _provenance(self, params: dict) -> Response:
        """The provenance rows of the tables asked for (all when none are named)."""
        wanted = _listed(params, "tables")
        ids = {self.table(t).id for t in wanted} if wanted else set(self.tables)
        return json_response([r for r in self.provenance if r.get("table") in ids])

    def _data(self, params: dict, variables: dict[str, list[str]]) -> Response:
        """A data extract: check the request as DST does, select the cells, present and encode them."""
        state = self.table(_table_param(params))
        fmt = _data_format(state, params)
        requested = _requested(state, variables, bulk=fmt == "BULK")
        mask, columns, cells = _selection(state, requested)
        if fmt != "BULK" and cells > self.cell_limit:
            raise ApiError(
                "REQUEST-LIMIT", f"{state.id}: {cells} cells requested, limit is {self.cell_limit}"
            )
        frame = _present(state, state.data.loc[mask, [*columns, "INDHOLD"]],
                         str(params.get("valuepresentation") or "Code"))
        order = str(params.get("timeorder") or "")
        if order:
            frame = frame.sort_values("TID", ascending=order.lower().startswith("asc"), kind="stable")
        text = to_delimited(frame, decimal="," if str(params.get("lang", "en")).lower() == "da" else ".")
        body = ("\ufeff" + text if fmt == "CSV" else text).encode("utf-8")
        return Response(200, "text/csv; charset=utf-8", body)


def _listed(params: dict, key: str) -> list | None:
    """A list parameter: a JSON list, or a comma-separated string (GET); None when not given."""
    wanted = params.get(key)
    return wanted.split(",") if isinstance(wanted, str) else wanted


def _data_format(state: TableState, params: dict) -> str:
    """`BULK` or `CSV` (the default); other formats, and `timeOrder` with BULK, are refused as DST does."""
    fmt = str(params.get("format") or "CSV").upper()
    if fmt not in ("BULK", "CSV"):
        raise ApiError("EXTRACT-NOTALLOWED", f"{state.id}: format {fmt} is not supported here (BULK, CSV)")
    if params.get("timeorder") and fmt == "BULK":
        raise ApiError("EXTRACT-STREAMINGTIMESORT", "timeOrder cannot be used with a streaming format (BULK)")
    return fmt


def _requested(state: TableState, variables: dict[str, list[str]], bulk: bool) -> dict[str, list[str]]:
    """The value selectors by upper-case variable code (blank ones dropped); BULK must list every variable."""
    by_id = {v["id"].upper() for v in state.variables}
    requested: dict[str, list[str]] = {}
    for code, values in variables.items():
        if code.upper() not in by_id:
            raise ApiError("EXTRACT-NOTFOUND", f"variable {code} not found in table {state.id}")
        requested[code.upper()] = [v for v in values if str(v).strip()]
    missing = [v["id"] for v in state.variables if not requested.get(v["id"].upper())]
    if bulk and missing:
        raise ApiError(
            "EXTRACT-NOTALLOWED",
            f"BULK needs every variable of {state.id} listed with values; missing: {', '.join(missing)}",
        )
    return requested


def _codes(state: TableState, var: dict, selectors: list[str] | None) -> tuple[list[str], bool]:
    """The codes of `var` an extract takes, and whether the variable is a column of the answer.

    Selected: the codes its selectors match. Omitted: the newest period for time, the total for an
    eliminable variable (not a column then); any other omitted variable is an error.
    """
    col = var["id"].upper()
    if selectors:
        try:
            codes, shown = select_values(var, selectors), True
        except SelectionError as exc:
            raise ApiError("EXTRACT-NOTFOUND", f"{state.id}: {exc}") from None
    elif var.get("time"):
        codes, shown = [var["values"][-1]["id"]], True
    elif col in ELIMINATION_CODE and var.get("elimination"):
        codes, shown = [ELIMINATION_CODE[col]], False
    else:
        raise ApiError("EXTRACT-NOTALLOWED", f"variable {var['id']} of {state.id} must be selected")
    if not codes:
        raise ApiError("EXTRACT-NOTFOUND", f"{state.id}: no values of {var['id']} match {selectors}")
    return codes, shown


def _selection(state: TableState, requested: dict[str, list[str]]) -> tuple[pd.Series, list[str], int]:
    """The rows an extract selects, the code columns it answers with, and how many cells it asks for."""
    mask = pd.Series(True, index=state.data.index)
    columns, cells = [], 1
    for var in state.variables:
        col = var["id"].upper()
        codes, shown = _codes(state, var, requested.get(col))
        if shown:
            columns.append(col)
        mask &= state.data[col].isin(codes)
        cells *= len(codes)
    return mask, columns, cells


def _table_param(params: dict) -> str:
    table = params.get("table") or params.get("id")
    if not table:
        raise ApiError("EXTRACT-NOTFOUND", "no table given (body key 'table')")
    return str(table)


def _present(state: TableState, frame: pd.DataFrame, presentation: str) -> pd.DataFrame:
    """Code columns as codes, texts or both, as `valuePresentation` asks."""
    mode = presentation.lower()
    if mode == "code":
        return frame
    frame = frame.copy()
    for var in state.variables:
        col = var["id"].upper()
        if col in frame.columns:
            text = {v["id"]: v["text"] for v in var["values"]}
            as_text = frame[col].map(text)
            frame[col] = {
                "codeandvalue": frame[col] + " " + as_text,
                "valueandcode": as_text + " " + frame[col],
            }.get(mode, as_text)
    return frame
