"""The snapshot as a `requests` transport: the client's offline mode runs the server's app in process.

Mounted on a `requests.Session` under `snapshot://`, so the production client sends exactly the requests it
sends to api.statbank.dk and parses the answers with the same code; only the adapter differs.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from sector_forecast.statbank.server.app import StatBankApp

SCHEME = "snapshot://"


class SnapshotAdapter(BaseAdapter):
    """Answers `snapshot://local/v1/...` requests from a `StatBankApp` over a snapshot directory."""

    def __init__(self, snapshot_dir: Path) -> None:
        super().__init__()
        self.app = StatBankApp(snapshot_dir)

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        url = urlsplit(request.url)
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
        answer = self.app.handle(request.method or "GET", url.path, dict(parse_qsl(url.query)), body)
        reply = requests.Response()
        reply.status_code, reply._content, reply.url, reply.request = answer.status, answer.body, request.url, request
        reply.headers = CaseInsensitiveDict({"Content-Type": answer.content_type, **answer.headers})
        reply.encoding = "utf-8"
        return reply

    def close(self) -> None:
        pass


def snapshot_session(snapshot_dir: Path) -> requests.Session:
    """A session whose `snapshot://` URLs are answered from `snapshot_dir`."""
    session = requests.Session()
    session.mount(SCHEME, SnapshotAdapter(snapshot_dir))
    return session
