"""The one `Definitions` of the sector_forecast code location: assets, checks, jobs, sensors, resources.

`dagster dev` (via workspace.yaml or `[tool.dagster]`) and `sector-forecast run` both load `defs` from here.
"""

from __future__ import annotations

import dagster as dg

from sector_forecast.defs.assets import evaluation, features, forecasts, models, monitoring, panel, raw
from sector_forecast.defs.automation import AUTOMATION_SENSORS, with_automation
from sector_forecast.defs.freshness import FRESHNESS_CHECKS
from sector_forecast.defs.io_manager import ParquetIOManager
from sector_forecast.defs.jobs import JOBS
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.defs.sensors import SCHEDULES, SENSORS


def build_definitions(
    statbank: StatBankResource | None = None,
    mlflow: MlflowResource | None = None,
    storage_dir: str | None = None,
) -> dg.Definitions:
    """Assemble the code location; tests pass a local StatBank server, a temporary store and tracking URI."""
    return dg.Definitions(
        assets=with_automation([
            # In the lineage graph's order; each module is one asset group of the same name.
            *raw.RAW_ASSETS, panel.quarterly_panel, features.feature_frame, *models.FIT_ASSETS,
            evaluation.backtest_leaderboard, evaluation.champion_model, forecasts.forecasts,
            *monitoring.MONITORING_ASSETS,
        ]),
        asset_checks=FRESHNESS_CHECKS,
        jobs=JOBS,
        sensors=[*SENSORS, *AUTOMATION_SENSORS],
        schedules=SCHEDULES,
        # Every run (jobs, UI backfills, automation) executes its steps in the run worker's process: on two
        # cores a process per step buys no parallelism worth its start-up (each re-imports the project).
        executor=dg.in_process_executor,
        resources={
            "statbank": statbank or StatBankResource.from_env(),
            "mlflow": mlflow or MlflowResource(),
            "parquet_io_manager": ParquetIOManager(base_dir=storage_dir),
        },
    )


defs = build_definitions()
