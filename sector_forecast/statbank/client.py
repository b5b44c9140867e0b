"""Client for the Statistics Denmark StatBank API (v1): live over HTTP, or in-process from a snapshot.

Both modes send the same JSON requests through a `requests.Session` and run the same response checks and
parsing; the only difference is the session's transport (HTTP to a URL, or the local server's request handler
mounted as an adapter on a snapshot directory, `server/transport.py`).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from sector_forecast.statbank.errors import (
    StatBankApiError,
    StatBankBadResponse,
    StatBankError,
    StatBankUnreachable,
)
from sector_forecast.statbank.provenance import (
    ALL_REAL,
    PROVENANCE_ENDPOINT,
    SERVED_NOTE,
    Selection,
    classify,
    provenance_shares,
    shares_of,
)
from sector_forecast.statbank.session import RETRY_STATUSES, failure_cause, retrying_session
from sector_forecast.statbank.snapshot import DEFAULT_SNAPSHOT, PROVENANCE_COLUMNS, SUPPRESSED

ENV_URL = "SECTOR_FORECAST_STATBANK_URL"
ENV_SNAPSHOT = "SECTOR_FORECAST_SNAPSHOT_DIR"


_Reply = requests.Response


def base_url_problem(url: str) -> str | None:
    """What is wrong with `url` as a StatBank base URL, as the end of a sentence naming it; None when nothing is."""
    if not re.match(r"https?://[^/]", url):
        return "is not an http:// or https:// URL"
    return None


def env_source() -> tuple[str | None, str | None]:
    """(StatBank URL, snapshot directory) as the environment sets them: the one place they are read."""
    return os.environ.get(ENV_URL) or None, os.environ.get(ENV_SNAPSHOT) or None


class StatBankClient:
    """Tables, metadata and BULK data from StatBank, with time-outs, retries and strict response checks."""

    def __init__(
        self,
        base_url: str | None = None,
        snapshot_dir: Path | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        if base_url and (problem := base_url_problem(base_url)):
            raise StatBankError(None, f"base URL {base_url!r} {problem}")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.snapshot_dir = None if self.base_url else Path(snapshot_dir or DEFAULT_SNAPSHOT).resolve()
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._session = retrying_session(retries, backoff) if self.base_url else None
        self._snapshot_url = ""

    @classmethod
    def from_env(cls, **kwargs) -> StatBankClient:
        """Live URL from $SECTOR_FORECAST_STATBANK_URL, else the snapshot ($SECTOR_FORECAST_SNAPSHOT_DIR or
        the repository's data/statbank)."""
        url, snap = env_source()
        return cls(base_url=url, snapshot_dir=Path(snap) if snap else None, **kwargs)

    @property
    def is_snapshot(self) -> bool:
        return self.base_url is None

    @property
    def source(self) -> str:
        return self.base_url or f"snapshot:{self.snapshot_dir}"

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def _transport(self) -> tuple[requests.Session, str]:
        """The session and base URL requests go to; the snapshot's session is made on first use."""
        if self._session is None:
            from sector_forecast.statbank.server.transport import SCHEME, snapshot_session

            self._session, self._snapshot_url = snapshot_session(self.snapshot_dir), f"{SCHEME}local/v1"
        return self._session, self.base_url or self._snapshot_url

    # ---- API -------------------------------------------------------------------------------------------
    def tables(self, ids: list[str]) -> list[dict]:
        """`tables` entries for `ids` (inactive tables included), in the order asked."""
        rows = self._json("tables", {"lang": "en", "format": "JSON", "includeInactive": True}, ",".join(ids))
        if not isinstance(rows, list):
            raise StatBankBadResponse(",".join(ids), "tables answer is not a JSON list")
        by_id = {str(r.get("id", "")).upper(): r for r in rows if isinstance(r, dict)}
        missing = [t for t in ids if t.upper() not in by_id]
        if missing:
            raise StatBankApiError(
                ",".join(missing), "EXTRACT-NOTFOUND", "table not in the StatBank tables list"
            )
        return [by_id[t.upper()] for t in ids]

    def table_meta(self, table: str) -> dict:
        """The table's `tables` entry: `updated`, `latestPeriod`, `active`, ..."""
        meta = self.tables([table])[0]
        for key in ("updated", "latestPeriod", "active"):
            if key not in meta:
                raise StatBankBadResponse(table, f"tables entry lacks {key!r}")
        return meta

    def tableinfo(self, table: str) -> dict:
        info = self._json("tableinfo", {"table": table, "lang": "en", "format": "JSON"}, table)
        if not isinstance(info, dict) or not isinstance(info.get("variables"), list):
            raise StatBankBadResponse(table, "tableinfo answer has no variables list")
        return info

    def data(self, table: str, variables: dict[str, list[str]], format: str = "BULK") -> pd.DataFrame:
        """Cells as a DataFrame: code columns as str, INDHOLD float64 (NaN where suppressed), `suppressed`."""
        payload = {
            "table": table,
            "format": format,
            "lang": "en",
            "valuePresentation": "Code",
            "variables": [{"code": k, "values": list(v)} for k, v in variables.items()],
        }
        reply = self._request("data", payload, table)
        return parse_delimited(table, reply, [k.upper() for k in variables], format)

    # ---- provenance --------------------------------------------------------------------------------------
    def provenance_rows(self, tables: Iterable[str]) -> list[dict[str, str]] | None:
        """The provenance rows the source states for `tables`, or None when it states none (DST's API).

        A local server says so in every tableinfo footnote (`SERVED_NOTE`) and serves the rows at
        `/v1/provenance`; the endpoint is asked only then, so DST's API never sees a request it lacks.
        """
        ids = list(tables)
        if not any(SERVED_NOTE in str(self.tableinfo(t).get("footnote") or "") for t in ids):
            return None
        rows = self._json(PROVENANCE_ENDPOINT, {"tables": ids}, ",".join(ids))
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and set(PROVENANCE_COLUMNS) <= set(r) for r in rows
        ):
            raise StatBankBadResponse(",".join(ids), f"provenance answer is not a list of {PROVENANCE_COLUMNS} rows")
        return [{c: str(r[c]) for c in PROVENANCE_COLUMNS} for r in rows]

    def provenance_shares(
        self, tables: Iterable[str], selection: Selection = "model"
    ) -> dict[str, dict[str, float]]:
        """Per table, the real / approximate / synthetic shares of the selected cells (`provenance.py`).

        A snapshot's come from its files; a URL's from the cells and provenance rows it serves (all real
        when it states no provenance), cached per URL and table `updated` stamps.
        """
        ids = list(tables)
        if self.is_snapshot:
            return provenance_shares(self.snapshot_dir, ids, selection)
        stamps = tuple((str(m["id"]), str(m.get("updated"))) for m in self.tables(ids))
        source = (str(self.base_url), self.timeout, self.retries, self.backoff)
        if isinstance(selection, str):
            return _served_shares(source, stamps, selection)
        return _served_shares.__wrapped__(source, stamps, selection)  # a mapping cannot be a cache key

    # ---- transport -------------------------------------------------------------------------------------
    def _json(self, endpoint: str, payload: dict, table: str) -> object:
        reply = self._request(endpoint, payload, table)
        _reject_html(table, reply, "JSON")
        try:
            return json.loads(reply.content.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StatBankBadResponse(table, f"{endpoint} answer is not valid JSON ({exc})") from None

    def _send(self, endpoint: str, payload: dict) -> _Reply:
        session, base = self._transport()
        return session.post(f"{base}/{endpoint}", json=payload, timeout=self.timeout)

    def _request(self, endpoint: str, payload: dict, table: str) -> _Reply:
        """POST; the session's `Retry` has already retried connection errors, time-outs, 429 and 5xx."""
        try:
            reply = self._send(endpoint, payload)
        except requests.RequestException as exc:
            raise StatBankUnreachable(
                table, f"StatBank at {self.source} unreachable after {self.retries + 1} "
                f"attempt{'s' if self.retries else ''}: {failure_cause(exc, self.timeout)}"
            ) from None
        status = reply.status_code
        if status < 400:
            return reply
        code, message = _api_error(reply)
        if status in RETRY_STATUSES:
            history = getattr(getattr(reply.raw, "retries", None), "history", ())
            message = f"{message} (after {len(history) + 1} attempts)"
        raise StatBankApiError(table, code or f"HTTP-{status}", message, status)


@lru_cache(maxsize=16)
def _served_shares(
    source: tuple[str, float, int, float], stamps: tuple[tuple[str, str], ...], selection: Selection
) -> dict[str, dict[str, float]]:
    """Shares of a URL's cells: its provenance rows applied to the cells it serves now.

    `source` is (base URL, timeout, retries, backoff); `stamps` the tables' (id, updated), so a release or a
    revision on the server computes them again.
    """
    url, timeout, retries, backoff = source
    client = StatBankClient(base_url=url, timeout=timeout, retries=retries, backoff=backoff)
    ids = [t for t, _ in stamps]
    rows = client.provenance_rows(ids)
    if rows is None:
        return {t: dict(ALL_REAL) for t in ids}
    out = {}
    for table in ids:
        variables = client.tableinfo(table)["variables"]
        cells = client.data(table, {v["id"]: ["*"] for v in variables}).drop(columns=["INDHOLD", "suppressed"])
        out[table] = shares_of(classify(cells, rows, table), table, selection)
    return out


def _api_error(reply: _Reply) -> tuple[str | None, str]:
    try:
        doc = json.loads(reply.content.decode("utf-8"))
        return str(doc["errorTypeCode"]), str(doc.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return None, reply.content[:200].decode("utf-8", "replace") or "(empty body)"


def _reject_html(table: str, reply: _Reply, expected: str) -> None:
    ctype = str(reply.headers.get("Content-Type", "")).split(";")[0].strip()
    if ctype == "text/html" or reply.content.lstrip()[:1] == b"<":
        raise StatBankBadResponse(
            table,
            f"StatBank returned an HTML page instead of {expected} data (HTTP {reply.status_code}, {ctype})",
        )


def parse_delimited(table: str, reply: _Reply, expected: list[str], fmt: str = "BULK") -> pd.DataFrame:
    """Validate and parse a BULK/CSV body; any doubt is a `StatBankBadResponse` naming line and value."""
    _reject_html(table, reply, fmt)
    try:
        text = reply.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StatBankBadResponse(table, f"{fmt} body is not UTF-8 text (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")
    if not text.endswith("\n"):
        tail = text.rsplit("\n", 1)[-1][:60]
        raise StatBankBadResponse(table, f"{fmt} body is truncated: it ends mid-line ({tail!r})")
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    header = rows[0] if rows else []
    if header[-2:] != ["TID", "INDHOLD"]:
        raise StatBankBadResponse(table, f"{fmt} header is not ...;TID;INDHOLD: {';'.join(header)[:80]!r}")
    for col in expected:
        if col not in header:
            raise StatBankBadResponse(
                table, f"{fmt} body lacks the expected column {col} (header {';'.join(header)})"
            )
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise StatBankBadResponse(
                table, f"{fmt} line {n} has {len(row)} fields, expected {len(header)}: {';'.join(row)[:60]!r}"
            )
    frame = pd.DataFrame(rows[1:], columns=header, dtype=str)
    raw = frame["INDHOLD"].str.strip()
    suppressed = raw == SUPPRESSED
    numbers = pd.to_numeric(raw.where(~suppressed), errors="coerce")
    bad = numbers.isna() & ~suppressed
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise StatBankBadResponse(table, f"unparseable number {raw.iloc[i]!r} in INDHOLD at line {i + 2}")
    frame["INDHOLD"] = numbers.astype("float64")
    frame["suppressed"] = suppressed.astype(bool)
    return frame
