"""The local StatBank server's answers: a plain HTTP response value and DST's JSON error shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Response:
    """One HTTP answer, independent of how it is delivered (socket or in-process transport)."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """A request StatBank refuses: DST's `errorTypeCode`, its message and the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def json_response(obj: object, status: int = 200) -> Response:
    return Response(status, "application/json; charset=utf-8", json.dumps(obj, ensure_ascii=False).encode())


def error_response(code: str, message: str, status: int = 400) -> Response:
    return json_response({"errorTypeCode": code, "message": message}, status)
