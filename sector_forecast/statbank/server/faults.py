"""Injected failures of the local StatBank HTTP server (admin side only): outages, errors, broken bodies.

Queued by `POST /admin/fault` and served instead of the next API answers. Only the HTTP server holds a
queue, so the in-process snapshot transport and the production client cannot misbehave on purpose.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from dataclasses import dataclass

from sector_forecast.statbank.server.responses import ApiError, Response, error_response

FAULT_MODES = {"down", "500", "429", "html", "truncated", "garbage", "slow", "nocolumn"}
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body><h1>Statistics "
    b"Denmark</h1><p>The service is temporarily unavailable. Please try again later.</p></body></html>"
)


@dataclass
class Injected:
    """What the server sends instead: `response` after `delay` seconds, or nothing at all (None: drop)."""

    response: Response | None
    delay: float = 0.0


class FaultQueue:
    """Faults waiting to be served, one per API request, in the order they were queued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, float]] = deque()

    def add(self, mode: str, count: int = 1, seconds: float = 3.0) -> dict:
        if mode not in FAULT_MODES:
            raise ApiError("ADMIN-BADREQUEST", f"unknown fault mode {mode!r}; one of {sorted(FAULT_MODES)}")
        with self._lock:
            self._queue.extend([(mode, float(seconds))] * int(count))
            return {"faults": [m for m, _ in self._queue]}

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pop(self) -> tuple[str, float] | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None


def apply_fault(fault: tuple[str, float], response: Response) -> Injected:
    """Turn the real answer into the injected failure."""
    mode, seconds = fault
    if mode == "down":
        return Injected(None)
    if mode == "slow":
        return Injected(response, delay=seconds)
    if mode == "500":
        return Injected(error_response("INTERNAL-ERROR", "injected fault: internal server error", 500))
    if mode == "429":
        resp = error_response("TOO-MANY-REQUESTS", "injected fault: too many requests", 429)
        resp.headers["Retry-After"] = "0"
        return Injected(resp)
    if mode == "html":
        return Injected(Response(200, "text/html; charset=utf-8", HTML_PAGE))
    if mode == "truncated":
        body = response.body[: max(1, int(len(response.body) * 0.6))]
        while body.endswith(b"\n") and len(body) > 1:
            body = body[:-1]
        return Injected(Response(200, response.content_type, body))
    if mode == "nocolumn":  # the first column disappears, as if DST changed the table's layout
        lines = response.body.decode("utf-8").splitlines(keepends=True)
        return Injected(Response(200, response.content_type, "".join(ln.split(";", 1)[-1] for ln in lines).encode()))
    rng = random.Random(len(response.body))
    garbage = bytes(rng.randrange(256) for _ in range(512)) + json.dumps({"x": 1}).encode()
    return Injected(Response(200, "text/csv; charset=utf-8", garbage))
