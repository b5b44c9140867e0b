"""`sector-forecast evaluate`: print the evidence behind the forecasts from the instance `run` filled."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(help="Print the evidence behind the forecasts, read from the Dagster instance after `run`: "
               "graded origins, per-model accuracy and interval calibration, the promotion gate, monitoring "
               "alarms and how much of the data is real.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (keys documented in README).")
def evaluate(as_json: bool) -> None:
    import dagster as dg

    from sector_forecast.cli.home import ensure_dagster_home
    from sector_forecast.defs.resources import StatBankResource
    from sector_forecast.reports.evaluate import collect, render

    home = ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        storage = Path(instance.storage_directory())
    try:
        evidence = collect(storage, StatBankResource.from_env().provenance_shares())
    except FileNotFoundError as err:
        raise click.ClickException(f"{err} (instance {home})") from None
    click.echo(json.dumps(evidence, indent=2) if as_json else render(evidence))
