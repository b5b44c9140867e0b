"""Matplotlib figures for the UI: backtest errors by origin, and history plus forecast per sector."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from sector_forecast.domain.sectors import SECTORS  # noqa: E402

# Characters per title line that fit one of the ten 3-inch panels at 8 pt.
TITLE_WIDTH = 40


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
        # Full names, wrapped to the panel's width: the longest (sector 2) has 57 characters.
        ax.set_title(textwrap.fill(f"{sector}. {SECTORS[sector]}", TITLE_WIDTH), fontsize=8)
        ticks = list(past["quarter"])[:: max(1, len(past) // 3)]
        ax.set_xticks(ticks)
        ax.tick_params(labelsize=6)
    fig.suptitle("Sector Vitality Score: history and next-quarter forecast" + (f"\n{note}" if note else ""))
    fig.tight_layout()
    return fig


def forecast_panels(history: pd.DataFrame, forecast: pd.DataFrame, quarters: int = 20, note: str = ""):
    """Per sector: bankruptcies with the next-quarter forecast (80% and 95% intervals), and the score."""
    fig, axes = plt.subplots(2, 5, figsize=(16, 6), sharey=False)
    for ax, sector in zip(axes.ravel(), SECTORS, strict=True):
        past = history[history["sector"] == sector].sort_values("quarter").tail(quarters)
        ax.plot(past["quarter"], past["bankruptcies"].astype(float), color="tab:blue", linewidth=1)
        row = forecast[forecast["sector"] == sector]
        if len(row):
            r = row.iloc[0]
            for lo, hi, width in (("lower95", "upper95", 1), ("lower80", "upper80", 3)):
                ax.vlines(r["quarter"], r[lo], r[hi], color="tab:red", linewidth=width, alpha=0.6)
            ax.plot([r["quarter"]], [r["prediction"]], "o", color="tab:red")
            score = r.get("score_prediction")
            if pd.notna(score):
                ax.text(0.02, 0.95, f"score {score:.2f} [{r['score_lower80']:.2f}, {r['score_upper80']:.2f}]",
                        transform=ax.transAxes, fontsize=7, va="top")
        ax.set_title(textwrap.fill(f"{sector}. {SECTORS[sector]}", TITLE_WIDTH), fontsize=7)
        ticks = list(past["quarter"])[:: max(1, len(past) // 3)]
        ax.set_xticks(ticks)
        ax.tick_params(labelsize=6)
    fig.suptitle("Bankruptcies: history and next-quarter forecast (80% thick, 95% thin); derived score in text"
                 + (f"\n{note}" if note else ""), fontsize=9)
    fig.tight_layout()
    return fig
