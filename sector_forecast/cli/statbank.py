"""`sector-forecast statbank ...`: serve, pull and inspect the StatBank snapshot, and drive a
running local server (publish a month, revise a cell, close a table, inject a fault)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import requests

from sector_forecast.statbank.client import DEFAULT_SNAPSHOT, StatBankClient
from sector_forecast.statbank.errors import StatBankError

TABLES = ("KONK4", "KONK25", "DEMO14")


@click.group("statbank")
def statbank() -> None:
    """Statistics Denmark StatBank: snapshot, local server, live pull."""


@statbank.command()
@click.option("--snapshot", type=click.Path(path_type=Path), default=DEFAULT_SNAPSHOT, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
@click.option("--cell-limit", type=int, default=None, help="Cap for non-streaming formats (DST: 1,000,000).")
@click.option("--verbose", is_flag=True)
def serve(snapshot: Path, host: str, port: int, cell_limit: int | None, verbose: bool) -> None:
    """Serve a snapshot as a local StatBank API (prints `listening on URL`)."""
    from sector_forecast.statbank.server.http import serve as run

    run(snapshot, host, port, cell_limit, verbose=verbose)


@statbank.command()
@click.option("--url", default="https://api.statbank.dk/v1", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_SNAPSHOT, show_default=True)
def pull(url: str, out: Path) -> None:
    """Download KONK4, KONK25 and DEMO14 in full into a snapshot directory (atomic swap)."""
    from sector_forecast.statbank.pull import pull as run

    try:
        states = run(out, url=url)
    except StatBankError as exc:
        raise click.ClickException(str(exc)) from None
    for s in states:
        click.echo(f"{s.id}: {len(s.data)} cells, {s.meta['firstPeriod']}..{s.meta['latestPeriod']}")
    click.echo(f"snapshot written to {out}")


@statbank.command()
@click.option(
    "--url", default=None, help="StatBank base URL; default $SECTOR_FORECAST_STATBANK_URL or the snapshot."
)
@click.option("--snapshot", type=click.Path(path_type=Path), default=None)
def status(url: str | None, snapshot: Path | None) -> None:
    """Each table's updated stamp, latest period and active flag, and where they came from."""
    client = (
        StatBankClient(base_url=url, snapshot_dir=snapshot) if url or snapshot else StatBankClient.from_env()
    )
    try:
        metas = client.tables(list(TABLES))
    except StatBankError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"source: {client.source}")
    for m in metas:
        click.echo(
            f"{m['id']:<7} updated={m['updated']} latestPeriod={m['latestPeriod']} active={m['active']}"
        )


def _admin(url: str, op: str, payload: dict) -> None:
    base = url.rstrip("/").removesuffix("/v1")
    try:
        reply = requests.post(f"{base}/admin/{op}", json=payload, timeout=30)
    except requests.RequestException as exc:
        raise click.ClickException(
            f"{payload.get('table', 'server')}: local server unreachable ({exc})"
        ) from None
    if reply.status_code != 200:
        raise click.ClickException(f"{payload.get('table', 'server')}: {op} failed: {reply.text}")
    click.echo(json.dumps(reply.json(), ensure_ascii=False))


_url = click.option(
    "--url",
    required=True,
    envvar="SECTOR_FORECAST_STATBANK_URL",
    help="The local server's base URL (http://127.0.0.1:PORT/v1).",
)


@statbank.command()
@_url
@click.argument("table")
@click.option("--period", default=None, help="Default: the period after latestPeriod.")
def publish(url: str, table: str, period: str | None) -> None:
    """Tell a local server to publish the next period of TABLE."""
    _admin(url, "publish", {"table": table, "period": period})


@statbank.command()
@_url
@click.argument("table")
@click.argument("cell", nargs=-1, required=True)
@click.option("--value", required=True, help="New value, or `..` to suppress.")
def revise(url: str, table: str, cell: tuple[str, ...], value: str) -> None:
    """Revise one cell of TABLE, given as VAR=CODE pairs (e.g. BRANCHE25=A VIRKTYP1=K02 Tid=2026M09)."""
    _admin(url, "revise", {"table": table, "cell": dict(c.split("=", 1) for c in cell), "value": value})


@statbank.command("close")
@_url
@click.argument("table")
@click.option("--successor", default=None)
def close_table(url: str, table: str, successor: str | None) -> None:
    """Mark TABLE discontinued (active=false) on a local server."""
    _admin(url, "close", {"table": table, "successor": successor})


@statbank.command()
@_url
@click.argument(
    "mode", type=click.Choice(["down", "500", "429", "html", "truncated", "garbage", "slow", "nocolumn"])
)
@click.option("--count", type=int, default=1, show_default=True)
def fault(url: str, mode: str, count: int) -> None:
    """Make the next COUNT requests to a local server fail as MODE."""
    _admin(url, "fault", {"mode": mode, "count": count})


@statbank.command()
@_url
def reset(url: str) -> None:
    """Put a local server back to its snapshot."""
    _admin(url, "reset", {})
