"""Jobs an analyst launches from the UI (or the CLI runs in-process): one per stage.

Each stage's assets share one partitions definition, so a partition range of a stage runs as a single run
(single-run backfill policy) instead of one process per month. A per-quarter backfill of the whole graph is
`panel_job` then `fits_job` over the same quarters, then `evaluation_job` (see README).
"""

from __future__ import annotations

import dagster as dg

konk4_job = dg.define_asset_job("konk4_job", selection=dg.AssetSelection.assets("konk4_raw"),
                                description="Pull KONK4 months (closed table: history to 2025M12).")
konk25_job = dg.define_asset_job("konk25_job", selection=dg.AssetSelection.assets("konk25_raw"),
                                 description="Pull KONK25 months.")
demo14_job = dg.define_asset_job("demo14_job", selection=dg.AssetSelection.assets("demo14_raw"),
                                 description="Pull DEMO14 years.")
panel_job = dg.define_asset_job(
    "panel_job", selection=dg.AssetSelection.groups("panel", "features"),
    description="Quarterly panel and feature frame for a range of quarters (a per-quarter backfill).",
)
fits_job = dg.define_asset_job(
    "fits_job", selection=dg.AssetSelection.groups("models"),
    description="Every model's fit for a range of forecast origins: a rolling-origin backtest.",
)
evaluation_job = dg.define_asset_job(
    "evaluation_job", selection=dg.AssetSelection.groups("evaluation", "forecasts"),
    description="Leaderboard, promotion gate into the MLflow registry, and next-quarter forecasts.",
)
monitoring_job = dg.define_asset_job(
    "monitoring_job", selection=dg.AssetSelection.groups("monitoring"),
    description="Batch predictions into the prediction log, then the drift report, for a range of quarters.",
)

JOBS = [konk4_job, konk25_job, demo14_job, panel_job, fits_job, evaluation_job, monitoring_job]
STAGES: tuple[str, ...] = tuple(job.name for job in JOBS)
"""The stage jobs of `sector-forecast run`, in dependency order."""
