"""Injected StatBank failures for tests: a fault proxy in front of a running `sector-forecast statbank serve`.

Faults are a test instrument, so they live here and not in the runtime package. The proxy forwards every
request to the real server unchanged, except that each queued fault replaces the answer to the next `/v1`
request: an outage, an error status, or a broken body built from the real answer. Forwarding `/admin/reset`
also clears the queue, so a test that resets its server starts without leftover faults.

`as_dst=True` also makes the server look like DST's own API: no provenance statement in tableinfo footnotes
and no `/v1/provenance` (404, as DST answers an unknown endpoint), so tests can check what a client does with
a source that states none.

    with FaultProxy(server_url) as proxy:   # proxy.url is what the client under test uses
        proxy.add("500", count=2)
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from sector_forecast.statbank.provenance import PROVENANCE_ENDPOINT, SERVED_NOTE
from sector_forecast.statbank.server.http import write_response
from sector_forecast.statbank.server.responses import Response, error_response, json_response

FAULT_MODES = ("down", "500", "429", "html", "truncated", "garbage", "slow", "nocolumn")
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head><body><h1>Statistics "
    b"Denmark</h1><p>The service is temporarily unavailable. Please try again later.</p></body></html>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass
class Injected:
    """What the proxy sends instead: `response` after `delay` seconds, or nothing at all (None: drop)."""

    response: Response | None
    delay: float = 0.0


class FaultQueue:
    """Faults waiting to be served, one per API request, in the order they were queued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, float]] = deque()

    def add(self, mode: str, count: int = 1, seconds: float = 3.0) -> list[str]:
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {', '.join(FAULT_MODES)}")
        with self._lock:
            self._queue.extend([(mode, float(seconds))] * int(count))
            return [m for m, _ in self._queue]

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


def _as_dst(path: str, response: Response) -> Response:
    """The answer as DST's API would give it: no provenance statement, no provenance endpoint."""
    parts = [p.lower() for p in path.split("/") if p]
    if parts[1:2] == [PROVENANCE_ENDPOINT]:
        return error_response("NOTFOUND", f"no such endpoint {path}", 404)
    if parts[1:2] == ["tableinfo"] and response.status == 200:
        info = json.loads(response.body)
        info["footnote"] = str(info.get("footnote") or "").replace(SERVED_NOTE, "").strip()
        return json_response(info)
    return response


class _ProxyHandler(BaseHTTPRequestHandler):
    upstream: str  # the server's root, `http://127.0.0.1:PORT`
    faults: FaultQueue
    as_dst: bool
    protocol_version = "HTTP/1.1"

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = self.path.split("?", 1)[0]
        if path.rstrip("/") == "/admin/reset":
            self.faults.clear()
        fault = self.faults.pop() if path.startswith("/v1/") else None
        headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
        reply = requests.request(method, self.upstream + self.path, data=body, headers=headers, timeout=300)
        extra = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_BY_HOP | {"content-type"}}
        response = Response(reply.status_code, reply.headers.get("Content-Type", ""), reply.content, extra)
        if self.as_dst:
            response = _as_dst(path, response)
        if fault:
            injected = apply_fault(fault, response)
            if injected.response is None:
                self.close_connection = True  # answer nothing: the client sees the connection drop
                return
            time.sleep(injected.delay)
            response = injected.response
        write_response(self, response)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self._forward("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._forward("POST")

    def log_message(self, format: str, *args: object) -> None:
        pass


class FaultProxy:
    """A proxy on a free local port, served from a daemon thread of the test process until `close()`."""

    def __init__(self, server_url: str, as_dst: bool = False) -> None:
        self.faults = FaultQueue()
        root = server_url.rstrip("/").removesuffix("/v1")
        attrs = {"upstream": root, "faults": self.faults, "as_dst": as_dst}
        handler = type("FaultProxyHandler", (_ProxyHandler,), attrs)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    def add(self, mode: str, count: int = 1, seconds: float = 3.0) -> list[str]:
        """Queue `count` faults of `mode` (`slow` waits `seconds`); returns the whole queue."""
        return self.faults.add(mode, count, seconds)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
