"""The HTTP session the client talks to StatBank through: urllib3's `Retry` on requests' `HTTPAdapter`, and
a few plain words for a request that got no answer (instead of urllib3's nested exception text)."""

from __future__ import annotations

from http.client import RemoteDisconnected

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, ProtocolError, ReadTimeoutError
from urllib3.util import Retry

RETRY_STATUSES = frozenset({429, *range(500, 600)})


def retrying_session(retries: int, backoff: float) -> requests.Session:
    """A session whose HTTP(S) adapter retries with urllib3's `Retry`.

    Deviations from `Retry`'s defaults, and why: POST is retried too (`allowed_methods=None`: every StatBank
    call is a read, so repeating it is safe); 429 and every 5xx are retried (`status_forcelist`), honouring
    `Retry-After`; the last error answer is returned rather than raised (`raise_on_status=False`) so the
    client can report DST's own error code and message.
    """
    retry = Retry(
        total=retries,
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def failure_cause(exc: requests.RequestException, timeout: float | None = None) -> str:
    """A few words for why a request got no answer, instead of urllib3's nested exception text."""
    within = f" within {timeout:g} s" if timeout else ""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
    for err in chain:
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, NameResolutionError):
            return "host name not found"
        if isinstance(err, ConnectionResetError | RemoteDisconnected | ProtocolError):
            return "connection dropped before an answer"
    for err in chain:  # urllib3's NewConnectionError is a ConnectTimeoutError too: ruled out above
        if isinstance(err, requests.ConnectTimeout | ConnectTimeoutError):
            return f"Timeout: no connection{within}"
        if isinstance(err, requests.Timeout | ReadTimeoutError | TimeoutError):
            return f"Timeout: no answer{within}"
    text = str(chain[-1]).splitlines()[0] if str(chain[-1]) else type(chain[-1]).__name__
    return " ".join(text.split())[:120]
