"""`sector-forecast statbank ...`: serve, pull and inspect a StatBank snapshot, and drive a running local
server (publish a period, revise a cell, close a table, reset it).

Every failure is one line naming the argument or table, the value and what was expected; no traceback."""

from __future__ import annotations

from pathlib import Path

import click
import requests

from sector_forecast.cli.errors import OneLineErrors
from sector_forecast.statbank.client import DEFAULT_SNAPSHOT, StatBankClient
from sector_forecast.statbank.errors import StatBankError
from sector_forecast.statbank.session import failure_cause

TABLES = ("KONK4", "KONK25", "DEMO14")


@click.group("statbank", cls=OneLineErrors)
def statbank() -> None:
    """Statistics Denmark StatBank: snapshot, local server, live pull."""


def _snapshot_dir(value: Path) -> Path:
    if not (value / "tables.json").is_file():
        raise click.BadParameter(f"{str(value)!r} is not a snapshot directory (no tables.json in it)",
                                 param_hint="'--snapshot'")
    return value


@statbank.command()
@click.option("--snapshot", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_SNAPSHOT,
              show_default=True, help="Snapshot directory to serve (tables.json, one folder per table).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port.")
@click.option("--cell-limit", type=click.IntRange(min=1), default=None,
              help="Cap for non-streaming formats (DST: 1,000,000).")
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the generator behind `publish`.")
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def serve(snapshot: Path, host: str, port: int, cell_limit: int | None, seed: int, verbose: bool) -> None:
    """Serve a snapshot as a local StatBank API (prints `listening on URL`)."""
    from sector_forecast.statbank.server.http import serve as run

    try:
        run(_snapshot_dir(snapshot), host, port, cell_limit, seed=seed, verbose=verbose)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise click.ClickException(f"--snapshot {snapshot}: not a readable snapshot ({exc})") from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@statbank.command()
@click.option("--url", default="https://api.statbank.dk/v1", show_default=True, help="StatBank API base URL.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Snapshot directory to write (e.g. data/statbank to replace the bundled snapshot).")
@click.option("--force", is_flag=True, help="Replace --out even if it already holds a snapshot.")
def pull(url: str, out: Path, force: bool) -> None:
    """Download KONK4, KONK25 and DEMO14 in full into a snapshot directory (atomic swap).

    The pulled provenance.csv says what the source says: every cell real from DST's API, the served
    snapshot's provenance from a local server that serves a reconstruction."""
    from sector_forecast.statbank.pull import pull as run

    if out.exists() and any(out.iterdir()) and not force:
        raise click.BadParameter(f"{str(out)!r} already exists and is not empty; pass --force to replace it",
                                 param_hint="'--out'")
    try:
        states = run(out, url=url)
    except StatBankError as exc:
        raise click.ClickException(str(exc)) from None
    for s in states:
        click.echo(f"{s.id}: {len(s.data)} cells, {s.meta['firstPeriod']}..{s.meta['latestPeriod']}")
    click.echo(f"snapshot written to {out}")


@statbank.command()
@click.option("--url", default=None, help="StatBank base URL; default $SECTOR_FORECAST_STATBANK_URL or the snapshot.")
@click.option("--snapshot", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Snapshot directory to read instead of a URL.")
def status(url: str | None, snapshot: Path | None) -> None:
    """Each table's updated stamp, latest period and active flag, and where they came from."""
    try:
        client = (
            StatBankClient(base_url=url, snapshot_dir=_snapshot_dir(snapshot) if snapshot else None)
            if url or snapshot else StatBankClient.from_env()
        )
        metas = client.tables(list(TABLES))
    except StatBankError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"source: {client.source}")
    for m in metas:
        click.echo(f"{m['id']:<7} updated={m['updated']} latestPeriod={m['latestPeriod']} active={m['active']}")


def _admin(url: str, op: str, payload: dict) -> dict:
    """POST to the local server's `/admin/<op>`; any failure is one line naming table (or server) and cause."""
    base = url.rstrip("/").removesuffix("/v1")
    who = payload.get("table") or "StatBank"
    try:
        reply = requests.post(f"{base}/admin/{op}", json=payload, timeout=30)
    except requests.RequestException as exc:
        raise click.ClickException(f"{who}: local server at {url} unreachable: {failure_cause(exc, 30)}") from None
    try:
        answer = reply.json()
    except ValueError:
        answer = None
    if reply.status_code != 200 or not isinstance(answer, dict):
        message = answer.get("message") if isinstance(answer, dict) else None
        if reply.status_code == 404 and not message:
            message = f"{url} is not a local StatBank server (`sector-forecast statbank serve`)"
        raise click.ClickException(f"{who}: {op} failed: {message or reply.text[:200]}")
    return answer


_url = click.option(
    "--url",
    required=True,
    envvar="SECTOR_FORECAST_STATBANK_URL",
    help="The local server's base URL (http://127.0.0.1:PORT/v1); default $SECTOR_FORECAST_STATBANK_URL.",
)


def _state(meta: dict) -> str:
    return f"latestPeriod={meta['latestPeriod']} updated={meta['updated']} active={meta['active']}"


@statbank.command()
@_url
@click.argument("table")
@click.option("--period", default=None, help="Period code such as 2026M10 or 2024; default: the one after "
              "latestPeriod.")
def publish(url: str, table: str, period: str | None) -> None:
    """Tell a local server to publish the next period of TABLE."""
    meta = _admin(url, "publish", {"table": table, "period": period})
    click.echo(f"{meta['id']}: published {meta['latestPeriod']} ({_state(meta)})")


def _cell(values: tuple[str, ...]) -> dict[str, str]:
    bad = [v for v in values if "=" not in v.strip("=")]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not VAR=CODE (e.g. BRANCHE25=A)", param_hint="'CELL'")
    return dict(v.split("=", 1) for v in values)


@statbank.command()
@_url
@click.argument("table")
@click.argument("cell", nargs=-1, required=True)
@click.option("--value", required=True, help="New value, or `..` to suppress.")
def revise(url: str, table: str, cell: tuple[str, ...], value: str) -> None:
    """Revise one cell of TABLE, given as VAR=CODE pairs (e.g. BRANCHE25=A VIRKTYP1=K02 Tid=2026M09)."""
    where = _cell(cell)
    meta = _admin(url, "revise", {"table": table, "cell": where, "value": value})
    named = " ".join(f"{k}={v}" for k, v in where.items())
    click.echo(f"{meta['id']}: {named} revised to {value} ({_state(meta)})")


@statbank.command("close")
@_url
@click.argument("table")
@click.option("--successor", default=None, metavar="TABLE",
              help="Table that replaces it (e.g. KONK25); named in the footnote of TABLE's tableinfo.")
def close_table(url: str, table: str, successor: str | None) -> None:
    """Mark TABLE discontinued (active=false) on a local server."""
    meta = _admin(url, "close", {"table": table, "successor": successor})
    click.echo(f"{meta['id']}: closed{f', replaced by {successor}' if successor else ''} ({_state(meta)})")


@statbank.command()
@_url
def reset(url: str) -> None:
    """Put a local server back to its snapshot (undo publish, revise and close)."""
    _admin(url, "reset", {})
    click.echo(f"{url}: back at its snapshot")
