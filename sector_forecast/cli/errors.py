"""How every `sector-forecast` command fails: one `Error: ...` line naming the cause, no usage block, no traceback.

Usage errors (an unknown option, a bad value, a missing argument) keep click's message, which names the
argument, the value and what was expected, and its exit status 2, without the `Usage:`/`Try ... --help`
lines above it. Any other exception is an unexpected error: one line with its type and first line, and its
traceback only with `--debug` (an option of `sector-forecast`) or `SECTOR_FORECAST_DEBUG=1`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

DEBUG_ENV = "SECTOR_FORECAST_DEBUG"


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """A `click.UsageError` raised in the body becomes a plain `ClickException` with the same message and status."""
    try:
        yield
    except click.UsageError as exc:
        error = click.ClickException(exc.format_message())
        error.exit_code = exc.exit_code
        raise error from None


def debugging(ctx: click.Context) -> bool:
    """Whether the user asked for tracebacks: `--debug` on the root command, or $DEBUG_ENV."""
    return bool(ctx.find_root().params.get("debug")) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


class OneLineErrors(click.Group):
    """A command group whose errors, and its subcommands', end the command with one line (see the module)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with one_line_usage_errors():  # the group's own options: `sector-forecast --bogus`
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with one_line_usage_errors():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException, KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:
            if debugging(ctx):
                raise
            first = (str(err).strip().splitlines() or [""])[0]
            hint = f"(--debug or {DEBUG_ENV}=1 for the traceback)"
            raise click.ClickException(f"{type(err).__name__}: {first} {hint}") from None
