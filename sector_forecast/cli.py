"""`sector-forecast`: run the pipeline, open the UI, and work with StatBank sources and snapshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import click

from sector_forecast.cli_statbank import statbank
from sector_forecast.stages import STAGES

REPO_ROOT = Path(__file__).resolve().parents[1]


def ensure_dagster_home() -> Path:
    """`$DAGSTER_HOME`, or `./.dagster_home` created with the project's `dagster.yaml` when unset."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    template = REPO_ROOT / "dagster.yaml"
    if not config.exists() and template.exists():
        shutil.copyfile(template, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@click.group(help=__doc__)
def main() -> None:
    pass


@main.command(help="Materialise the whole graph on the configured source (bundled snapshot unless "
              "SECTOR_FORECAST_STATBANK_URL is set) into the Dagster instance at $DAGSTER_HOME "
              "(./.dagster_home when unset), then print a summary, the leaderboard and the forecasts.")
@click.option("--stage", "stages", multiple=True,
              type=click.Choice(STAGES),
              help="Run only these stages (default: all, in order).")
def run(stages: tuple[str, ...]) -> None:
    home = ensure_dagster_home()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the summary readable
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)

    from sector_forecast.definitions import defs
    from sector_forecast.pipeline import run_pipeline
    from sector_forecast.report import print_summary
    from sector_forecast.resources import StatBankResource

    statbank_resource = StatBankResource.from_env()
    client = statbank_resource.get_client()
    click.echo(f"sector_forecast: source {client.source}; Dagster instance {home}")
    if client.is_snapshot:
        click.echo("  (bundled snapshot: RECONSTRUCTED data — real figures where DST's are known, synthetic "
                   "elsewhere; see data/README.md)")
    from sector_forecast.statbank import StatBankError

    with dg.DagsterInstance.get() as instance:
        try:
            result = run_pipeline(defs, instance, client, jobs=list(stages) or None, echo=click.echo)
        except StatBankError as err:
            raise click.ClickException(str(err)) from err
        print_summary(instance, result, echo=click.echo, data_label=statbank_resource.data_label())
    if not result.success:
        sys.exit(1)


@main.command(help="Start the Dagster web UI and daemon (`dagster dev`) on 127.0.0.1 on the same instance "
              "as `run`.")
@click.option("--port", default=3000, show_default=True)
def ui(port: int) -> None:
    ensure_dagster_home()
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO_ROOT / "workspace.yaml")]
    click.echo(" ".join(cmd))
    raise SystemExit(subprocess.call(cmd, cwd=REPO_ROOT))


main.add_command(statbank)

if __name__ == "__main__":
    main()
