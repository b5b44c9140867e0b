"""The summary `sector-forecast run` prints: stages, the backtest leaderboard and next-quarter forecasts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from sector_forecast.domain.sectors import SECTORS
from sector_forecast.io_manager import read_stored
from sector_forecast.pipeline import PipelineResult


def stored(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> Any | None:
    try:
        return read_stored(Path(instance.storage_directory()), asset, partition)
    except FileNotFoundError:
        return None


def print_summary(
    instance: dg.DagsterInstance, result: PipelineResult, echo: Callable[[str], None] = print, data_label: str = ""
) -> None:
    echo("")
    echo("== stages")
    for stage in result.stages:
        echo(f"  {stage.job:<15} {stage.partitions:<25} {'ok' if stage.success else 'FAILED':<6} "
             f"{stage.seconds:6.1f}s  run {stage.run_id}")
    for note in result.notes:
        echo(f"  note: {note}")
    board = stored(instance, "backtest_leaderboard")
    if board is not None:
        echo("")
        echo("== backtest leaderboard (rolling origin, all evaluated origins)")
        echo(board["overall"].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    champion = stored(instance, "champion_model")
    if champion is not None:
        echo("")
        echo(f"== promotion gate: {champion['decision']} {champion['candidate']} — {champion['reason']}")
        echo(f"   champion: sector-vitality version {champion['champion_version']} ({champion['champion_model']})")
    forecast = stored(instance, "forecasts")
    if isinstance(forecast, pd.DataFrame):
        echo("")
        echo(f"== forecasts for {forecast['quarter'].iloc[0]} (Sector Vitality Score, 80% interval)")
        if data_label:
            echo(f"   {data_label}")
        shown = forecast.assign(name=forecast["sector"].map(SECTORS).str.slice(0, 40))
        echo(shown[["sector", "name", "prediction", "lower", "upper", "model", "model_version"]]
             .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    echo("")
    echo(f"Dagster instance: {instance.root_directory}  →  sector-forecast ui  (http://127.0.0.1:3000)")
    echo(f"{'OK' if result.success else 'FAILED'}: {len(result.stages)} stage run(s)")
