"""A local stand-in for api.statbank.dk: serves a snapshot over HTTP, with admin endpoints that make DST's
release events happen (publish, revise, close).

    sector-forecast statbank serve --snapshot data/statbank --host 127.0.0.1 --port 0

prints `listening on http://127.0.0.1:PORT/v1` once it accepts connections. Admin: POST JSON to
`/admin/publish {table, period?, values?}`, `/admin/revise {table, cell, value}`, `/admin/close {table,
successor?}`, `/admin/limit {cells}`, `/admin/reset {}`; GET `/admin/state` lists the tables' metadata.
Injected failures (outages, broken bodies) are a test instrument: `sector_forecast_tests/statbank_faults.py`
puts them in front of this server as a proxy.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from sector_forecast.statbank.server.app import StatBankApp
from sector_forecast.statbank.server.responses import Response, error_response, json_response


def write_response(handler: BaseHTTPRequestHandler, response: Response) -> None:
    """Send `response` on `handler`'s connection; a client that went away just closes it."""
    try:
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(response.body)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    app: StatBankApp
    verbose = False
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        parts = [p for p in url.path.split("/") if p]
        if parts[:1] == ["admin"]:
            response = self._admin(parts[1] if len(parts) > 1 else "", body)
        else:
            response = self.app.handle(method, url.path, dict(parse_qsl(url.query)), body)
        write_response(self, response)

    def _admin(self, op: str, body: bytes | None) -> Response:
        """`/admin/<op>`: the app's table operations, plus a listing of the tables' state."""
        if op == "state":
            return json_response([t.meta for t in self.app.tables.values()])
        try:
            payload = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return error_response("ADMIN-BADREQUEST", f"{op}: the request body is not JSON")
        if not isinstance(payload, dict):
            return error_response("ADMIN-BADREQUEST", f"{op}: the request body is not a JSON object")
        return self.app.admin(op, payload)

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def log_message(self, format: str, *args: object) -> None:
        if self.verbose:
            super().log_message(format, *args)


def make_server(
    app: StatBankApp, host: str = "127.0.0.1", port: int = 0, verbose: bool = False
) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) bound to host:port; port 0 picks a free port."""
    handler = type("StatBankHandler", (_Handler,), {"app": app, "verbose": verbose})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(
    snapshot: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    cell_limit: int | None = None,
    seed: int = 2026,
    verbose: bool = False,
) -> None:
    """Serve until interrupted; prints the base URL as the first stdout line (tests and scripts read it)."""
    app = StatBankApp(Path(snapshot), seed=seed, **({"cell_limit": cell_limit} if cell_limit else {}))
    server = make_server(app, host, port, verbose)
    print(f"listening on http://{host}:{server.server_address[1]}/v1", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
