"""Exceptions raised by the StatBank client.

Every error carries the table it concerns and renders as one line that names the table and the cause, so a
failed Dagster run or CLI call tells the operator what to look at without a traceback.
"""

from __future__ import annotations


class StatBankError(Exception):
    """Base class: `str()` is `TABLE: cause`."""

    def __init__(self, table: str | None, message: str) -> None:
        self.table = table
        self.message = " ".join(str(message).split())
        super().__init__(f"{table or 'StatBank'}: {self.message}")


class StatBankUnreachable(StatBankError):
    """No answer at all (connection refused, reset or timed out) after every retry."""


class StatBankApiError(StatBankError):
    """The API answered with an error: DST's JSON `errorTypeCode` (or `HTTP-<status>` when it had none)."""

    def __init__(self, table: str | None, code: str, message: str, status: int | None = None) -> None:
        self.code = code
        self.status = status
        super().__init__(table, f"StatBank error {code}{f' (HTTP {status})' if status else ''}: {message}")


class StatBankBadResponse(StatBankError):
    """HTTP 200 but the body is not what was asked: HTML, truncated, garbled, missing columns or numbers."""
