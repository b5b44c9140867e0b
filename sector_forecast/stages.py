"""The stage jobs of `sector-forecast run`, in dependency order.

No Dagster import here: the CLI builds its `--stage` choices from this at start-up, and importing Dagster
would add over a second to every `sector-forecast --help` and `statbank` command.
"""

STAGES: tuple[str, ...] = (
    "konk4_job", "konk25_job", "demo14_job", "panel_job", "fits_job", "evaluation_job", "monitoring_job",
)
