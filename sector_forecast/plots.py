"""Matplotlib figures for the UI: backtest errors by origin, and history plus forecast per sector."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from sector_forecast.domain.sectors import SECTORS  # noqa: E402


def errors_by_origin(predictions: pd.DataFrame, note: str = ""):
    """Mean absolute error over the ten sectors at each origin, one line per model."""
    known = predictions.dropna(subset=["actual"]).assign(
        abs_error=lambda d: (d["prediction"] - d["actual"]).abs()
    )
    table = known.pivot_table(index="origin", columns="model", values="abs_error", aggfunc="mean")
    fig, ax = plt.subplots(figsize=(9, 3.5))
    table.plot(ax=ax, marker="o", linewidth=1)
    ax.set_xlabel("forecast origin")
    ax.set_ylabel("MAE over sectors")
    ax.set_title("Rolling-origin backtest: error by origin" + (f"\n{note}" if note else ""), fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def history_and_forecast(history: pd.DataFrame, forecast: pd.DataFrame, quarters: int = 20, note: str = ""):
    """Score history per sector with the next-quarter forecast and its interval."""
    fig, axes = plt.subplots(2, 5, figsize=(15, 5.5), sharey=False)
    for ax, sector in zip(axes.ravel(), SECTORS, strict=True):
        past = history[history["sector"] == sector].sort_values("quarter").tail(quarters)
        ax.plot(past["quarter"], past["score"], color="tab:blue", linewidth=1)
        row = forecast[forecast["sector"] == sector]
        if len(row):
            r = row.iloc[0]
            ax.errorbar([r["quarter"]], [r["prediction"]], yerr=[[r["prediction"] - r["lower"]],
                        [r["upper"] - r["prediction"]]], fmt="o", color="tab:red", capsize=3)
        ax.set_title(f"{sector}. {SECTORS[sector][:28]}", fontsize=8)
        ticks = list(past["quarter"])[:: max(1, len(past) // 3)]
        ax.set_xticks(ticks)
        ax.tick_params(labelsize=6)
    fig.suptitle("Sector Vitality Score: history and next-quarter forecast" + (f"\n{note}" if note else ""))
    fig.tight_layout()
    return fig
