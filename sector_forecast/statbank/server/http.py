"""A local stand-in for api.statbank.dk: serves a snapshot over HTTP, with admin endpoints to publish,
revise, close tables and inject failures.

    python -m sector_forecast.statbank.server.http --snapshot data/statbank --host 127.0.0.1 --port 0

prints `listening on http://127.0.0.1:PORT/v1` once it accepts connections. Admin: POST JSON to
`/admin/publish {table, period?, values?}`, `/admin/revise {table, cell, value}`, `/admin/close {table,
successor?}`, `/admin/fault {mode, count?, seconds?}` (modes: down, 500, 429, html, truncated,
garbage, slow, nocolumn), `/admin/limit {cells}`, `/admin/reset {}`;
GET `/admin/state` lists the tables' metadata.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from sector_forecast.statbank.server.app import StatBankApp
from sector_forecast.statbank.server.faults import FaultQueue, apply_fault
from sector_forecast.statbank.server.responses import ApiError, Response, error_response, json_response
from sector_forecast.statbank.snapshot import DEFAULT_SNAPSHOT


class _Handler(BaseHTTPRequestHandler):
    app: StatBankApp
    faults: FaultQueue
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
            fault = self.faults.pop() if parts[:1] == ["v1"] else None
            response = self.app.handle(method, url.path, dict(parse_qsl(url.query)), body)
            if fault:
                injected = apply_fault(fault, response)
                if injected.response is None:
                    self.close_connection = True  # answer nothing: the client sees the connection drop
                    return
                time.sleep(injected.delay)
                response = injected.response
        self._send(response)

    def _admin(self, op: str, body: bytes | None) -> Response:
        """`/admin/<op>`: the app's table operations, plus this server's fault queue and state listing."""
        if op == "state":
            return json_response([t.meta for t in self.app.tables.values()])
        try:
            payload = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = {"__bad_json__": True}
        if op == "fault":
            try:
                return json_response(self.faults.add(**payload))
            except ApiError as exc:
                return error_response(exc.code, exc.message, exc.status)
            except (TypeError, ValueError) as exc:
                return error_response("ADMIN-BADREQUEST", f"fault: {exc}")
        if op == "reset":
            self.faults.clear()
        return self.app.admin(op, payload)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

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
    handler = type("StatBankHandler", (_Handler,), {"app": app, "faults": FaultQueue(), "verbose": verbose})
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cell-limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    serve(args.snapshot, args.host, args.port, args.cell_limit, args.seed, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
