"""Client for the Statistics Denmark StatBank API (v1): live over HTTP, or in-process from a snapshot.

Both modes send the same JSON requests through a `requests.Session` and run the same response checks and
parsing; the only difference is the session's transport (HTTP to a URL, or the local server's request handler
mounted as an adapter on a snapshot directory, `server/transport.py`).
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from sector_forecast.statbank.errors import StatBankApiError, StatBankBadResponse, StatBankUnreachable
from sector_forecast.statbank.snapshot import DEFAULT_SNAPSHOT, SUPPRESSED

ENV_URL = "SECTOR_FORECAST_STATBANK_URL"
ENV_SNAPSHOT = "SECTOR_FORECAST_SNAPSHOT_DIR"


_Reply = requests.Response


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
        self.base_url = base_url.rstrip("/") if base_url else None
        self.snapshot_dir = None if self.base_url else Path(snapshot_dir or DEFAULT_SNAPSHOT).resolve()
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._session: requests.Session | None = requests.Session() if self.base_url else None
        self._snapshot_url = ""

    @classmethod
    def from_env(cls, **kwargs) -> StatBankClient:
        """Live URL from $SECTOR_FORECAST_STATBANK_URL, else the snapshot ($SECTOR_FORECAST_SNAPSHOT_DIR or
        the repository's data/statbank)."""
        url = os.environ.get(ENV_URL) or None
        snap = os.environ.get(ENV_SNAPSHOT) or None
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
        """POST with retries and exponential back-off on connection errors, time-outs, 429 and 5xx."""
        last = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff * (2**attempt)
            try:
                reply = self._send(endpoint, payload)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else 'no answer'}"
            else:
                status = reply.status_code
                if status == 429 or status >= 500:
                    last = f"HTTP {status}"
                    retry_after = reply.headers.get("Retry-After")
                    if retry_after is not None and retry_after.strip().isdigit():
                        wait = float(retry_after)
                    if attempt == self.retries:
                        code, message = _api_error(reply)
                        raise StatBankApiError(
                            table,
                            code or f"HTTP-{status}",
                            f"{message} (after {attempt + 1} attempts)",
                            status,
                        )
                elif status >= 400:
                    code, message = _api_error(reply)
                    raise StatBankApiError(table, code or f"HTTP-{status}", message, status)
                else:
                    return reply
            if attempt < self.retries:
                time.sleep(wait)
        raise StatBankUnreachable(
            table, f"no answer from {self.source} after {self.retries + 1} attempts ({last})"
        )


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
