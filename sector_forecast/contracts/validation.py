"""Running a Pandera contract: every failure as a readable row, and a one-line summary for errors."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa

from sector_forecast.domain.jsonable import to_json


def validate(schema: pa.DataFrameSchema, df: pd.DataFrame) -> list[dict[str, Any]]:
    """All failure cases of ``schema`` on ``df`` (empty when valid), one dict per failing row and check.

    Each dict has ``check``, ``column`` (None for row-wise checks spanning several columns), ``index``,
    ``key`` (the row's key columns, e.g. sector/quarter, so an error message can name the rows) and
    ``failure_case``; values are JSON types, so the Dagster layer can show them as metadata.
    """
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    unique = list(schema.unique or [])
    key_cols = [c for c in unique if c in df.columns]
    # Pandera reports a dataframe-level check by its error text; report our short name instead.
    names = {str(c.error): c.name for c in schema.checks if c.error}
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for row in cases.to_dict("records"):
        check = names.get(str(row["check"]), str(row["check"]))
        index = to_json(row["index"])
        column = row["column"]
        is_row_check = check in names.values() or check == "multiple_fields_uniqueness"
        if check == "multiple_fields_uniqueness":
            column = ",".join(unique)
        elif is_row_check:
            column = None
        elif check == "column_in_dataframe":
            column = row["failure_case"]
        ident = (check, column, index, None if is_row_check else str(row["failure_case"]))
        if ident in seen:
            continue
        seen.add(ident)
        in_frame = index is not None and index in df.index
        key = {c: to_json(df.loc[index, c]) for c in key_cols} if in_frame and key_cols else None
        failure = row["failure_case"]
        if is_row_check and in_frame:
            failure = {c: df.loc[index, c] for c in df.columns}
        out.append({"check": check, "column": column, "index": index, "key": key, "failure_case": to_json(failure)})
    return out


def summarize_failures(name: str, failures: list[dict[str, Any]], limit: int = 5) -> str:
    """One line naming the contract, the checks and the first rows, for an error message."""
    parts = []
    for f in failures[:limit]:
        where = f["key"] if f["key"] is not None else f"index {f['index']}"
        col = f" on {f['column']}" if f["column"] else ""
        case = "" if isinstance(f["failure_case"], dict) else f" ({f['failure_case']!r})"
        parts.append(f"{f['check']}{col} at {where}{case}")
    more = f" and {len(failures) - limit} more" if len(failures) > limit else ""
    return f"{name}: {len(failures)} failure(s): " + "; ".join(parts) + more
