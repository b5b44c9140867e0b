"""The summary `sector-forecast run` prints: stages, the backtest leaderboard and next-quarter forecasts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from sector_forecast.defs.pipeline import PipelineResult
from sector_forecast.domain.sectors import SECTORS
from sector_forecast.storage.values import read_stored


def stored(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> Any | None:
    """What the IO manager stored for `asset` (partition), or None (Parquet read as `io_manager.read_parquet`)."""
    try:
        return read_stored(Path(instance.storage_directory()), asset, partition)
    except FileNotFoundError:
        return None


def forecast_table(forecast: pd.DataFrame) -> str:
    """The forecasts with each sector's full name, left-aligned, so no name is cut or hard to scan."""
    names = forecast["sector"].map(SECTORS).fillna("")
    width = max([4, *names.str.len()])
    header = "name".ljust(width)
    shown = forecast.assign(**{header: names.str.ljust(width)})
    shown = shown.rename(columns={"prediction": "bankruptcies", "lower80": "low80", "upper80": "high80",
                                  "score_prediction": "score", "score_lower80": "s_low80",
                                  "score_upper80": "s_high80"})
    cols = ["sector", header, "bankruptcies", "low80", "high80", "score", "s_low80", "s_high80", "births_basis"]
    return shown[[c for c in cols if c in shown]].to_string(
        index=False, float_format=lambda v: f"{v:.2f}"
    )


def year_ahead_table(forecast: pd.DataFrame) -> str:
    """Sector × forecast quarter: `point [low80, high80]`, one column per horizon."""
    cells = forecast.assign(cell=[f"{p:.0f} [{lo:.0f}, {hi:.0f}]" for p, lo, hi in
                                  zip(forecast["prediction"], forecast["lower80"], forecast["upper80"], strict=True)])
    return cells.pivot(index="sector", columns="quarter", values="cell").to_string()


def print_summary(
    instance: dg.DagsterInstance, result: PipelineResult, echo: Callable[[str], None] = print, data_label: str = ""
) -> None:
    echo("")
    echo("== stages")
    for stage in result.stages:
        echo(f"  {stage.job:<15} {stage.partitions:<25} {'ok' if stage.success else 'FAILED':<6} "
             f"{stage.seconds:6.1f}s  run {stage.run_id}{'  ' + stage.assets if stage.assets else ''}")
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
        echo(f"== promotion gate: {champion['gate']['reason']}")
        echo(f"   champion: sector-vitality version {champion['champion_version']} ({champion['champion_model']})")
    forecast = stored(instance, "forecasts")
    if isinstance(forecast, pd.DataFrame):
        echo("")
        echo(f"== forecasts for {forecast['quarter'].iloc[0]}: bankruptcies and the derived Sector Vitality "
             f"Score, 80% intervals ({forecast['model'].iloc[0]}, version {forecast['model_version'].iloc[0]})")
        if data_label:
            echo(f"   {data_label}")
        horizon = forecast["horizon"] if "horizon" in forecast else pd.Series(1, index=forecast.index)
        echo(forecast_table(forecast[horizon == 1]))
        if horizon.max() > 1:
            echo("")
            echo("== the year ahead: bankruptcies per quarter, 80% interval (horizons 1–4, same origin)")
            echo(year_ahead_table(forecast))
    echo("")
    echo(f"Dagster instance: {instance.root_directory}  →  sector-forecast ui  (http://127.0.0.1:3000)")
    echo(f"{'OK' if result.success else 'FAILED'}: {len(result.stages)} stage run(s)")
