"""Matplotlib figures for the UI: backtest errors by origin, history plus forecast per sector, drift reports."""

from __future__ import annotations

import base64
import io
import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sector_forecast.domain.sectors import SECTORS

if TYPE_CHECKING:
    from sector_forecast.reports.drift_pages import DriftReport


def _plt():
    """matplotlib's pyplot on the file-only Agg backend, imported when the first figure is drawn.

    Not at module level: the asset modules import this one to define the graph, and every code server and
    run worker would pay ~1 s for matplotlib even when a run draws nothing (benchmarks/speed.py).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig, dpi: int = 80, tight: bool = True) -> bytes:
    """The figure as PNG bytes (closed afterwards, so bulk runs do not pile up open figures)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    _plt().close(fig)
    return buffer.getvalue()


def png_base64(fig, dpi: int = 80, tight: bool = True) -> str:
    """The figure as a base64 PNG, as markdown data URIs and the HTML report embed it."""
    return base64.b64encode(png_bytes(fig, dpi=dpi, tight=tight)).decode()


# Characters per title line that fit one of the ten 3-inch panels at 8 pt.
TITLE_WIDTH = 40


def errors_by_origin(predictions: pd.DataFrame, note: str = ""):
    """Mean absolute error over the ten sectors at each origin, one line per model."""
    known = predictions.dropna(subset=["actual"]).assign(
        abs_error=lambda d: (d["prediction"] - d["actual"]).abs()
    )
    table = known.pivot_table(index="origin", columns="model", values="abs_error", aggfunc="mean")
    fig, ax = _plt().subplots(figsize=(9, 3.5))
    table.plot(ax=ax, marker="o", linewidth=1)
    ax.set_xlabel("forecast origin")
    ax.set_ylabel("MAE over sectors")
    ax.set_title("Rolling-origin backtest: error by origin" + (f"\n{note}" if note else ""), fontsize=9)
    ax.grid(alpha=0.3)
    return fig


RECONSTRUCTED = "reconstructed data"


def _horizons(rows: pd.DataFrame) -> pd.DataFrame:
    """The forecast rows in horizon order (a `horizon` column, else the quarter order: horizon 1, 2, ...)."""
    return rows.sort_values("horizon" if "horizon" in rows.columns else "quarter", kind="mergesort")


def _fan_panel(ax, past: pd.DataFrame, ahead: pd.DataFrame) -> None:
    """One sector: history, the last published count marked, the forecasts with their 80%/95% fan."""
    counts = past["bankruptcies"].astype("float64").to_numpy()
    x_past = np.arange(len(past))
    ax.plot(x_past, counts, color="tab:blue", linewidth=1)
    published = np.flatnonzero(np.isfinite(counts))
    x0, y0 = (x_past[published[-1]], counts[published[-1]]) if len(published) else (len(past) - 1, np.nan)
    ax.plot([x0], [y0], "o", color="black", markersize=4, zorder=5)
    if np.isfinite(y0):
        ax.annotate(f"{past['quarter'].iloc[published[-1]]}: {y0:g}", (x0, y0), textcoords="offset points",
                    xytext=(-4, 6), ha="right", fontsize=6)
    if len(ahead):
        x = np.concatenate([[x0], len(past) + np.arange(len(ahead))])
        for lo, hi, alpha in (("lower95", "upper95", 0.18), ("lower80", "upper80", 0.35)):
            ax.fill_between(x, np.concatenate([[y0], ahead[lo].astype(float)]),
                            np.concatenate([[y0], ahead[hi].astype(float)]), color="tab:red", alpha=alpha,
                            linewidth=0)
        ax.plot(x, np.concatenate([[y0], ahead["prediction"].astype(float)]), "--", color="tab:red", linewidth=1)
        # The bands again as bars at each forecast, readable also when one quarter ahead makes the fan a sliver.
        for lo, hi, width in (("lower95", "upper95", 1), ("lower80", "upper80", 3)):
            ax.vlines(x[1:], ahead[lo].astype(float), ahead[hi].astype(float), color="tab:red", linewidth=width)
        ax.plot(x[1:], ahead["prediction"].astype(float), "o", color="tab:red", markersize=3)
    labels = [*past["quarter"].astype(str), *ahead["quarter"].astype(str)]
    last = len(labels) - 1  # the last forecast's quarter; history ticks keep clear of it
    ticks = [i for i in range(0, len(past), max(1, len(past) // 3)) if last - i >= 4] + [last]
    ax.set_xticks(ticks, [labels[i] for i in ticks])
    ax.tick_params(labelsize=6)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + 0.15 * (top - bottom))  # room for the score's line above the series


def fan_figure(history: pd.DataFrame, forecasts: pd.DataFrame, note: str = "", years: int = 5):
    """Per sector: the last ``years`` of bankruptcies, the last published count marked, the forecasts at horizons
    1..H with 80% (dark) and 95% (light) bands widening from the last published count; the score in text."""
    fig, axes = _plt().subplots(2, 5, figsize=(16, 6))
    for ax, sector in zip(axes.ravel(), SECTORS, strict=True):
        past = history[history["sector"] == sector].sort_values("quarter").tail(4 * years)
        ahead = _horizons(forecasts[forecasts["sector"] == sector])
        _fan_panel(ax, past, ahead)
        first = ahead.head(1)
        if len(first) and pd.notna(first.iloc[0].get("score_prediction")):
            r = first.iloc[0]
            ax.text(0.02, 0.95, f"score {r['quarter']} {r['score_prediction']:.2f} "
                    f"[{r['score_lower80']:.2f}, {r['score_upper80']:.2f}]", transform=ax.transAxes, fontsize=7,
                    va="top")
        ax.set_title(textwrap.fill(f"{sector}. {SECTORS[sector]}", TITLE_WIDTH), fontsize=7)
    horizons = int(forecasts.groupby("sector").size().max()) if len(forecasts) else 0
    title = (f"Bankruptcies: last {years} years and the forecast {horizons} quarter(s) ahead (80% dark, 95% light; "
             "● last published count)")
    if RECONSTRUCTED in note.lower():
        fig.text(0.5, 0.45, RECONSTRUCTED, ha="center", va="center", fontsize=48, color="grey", alpha=0.12,
                 rotation=15)
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=9)
    fig.tight_layout()
    return fig


def fan_chart(history: pd.DataFrame, forecasts: pd.DataFrame, note: str = "", years: int = 5) -> bytes:
    """`fan_figure` as PNG bytes. ``history``: sector, quarter, bankruptcies; ``forecasts``: sector, quarter,
    prediction, lower80, upper80, lower95, upper95 (optional horizon, score_prediction, score_lower80/upper80)."""
    return png_bytes(fan_figure(history, forecasts, note=note, years=years))


# ---- drift report figures ---------------------------------------------------------------------------

def data_drift_png(report: DriftReport) -> str:
    """Each hypothesis: its history, the Bonferroni-level prediction band, and the quarter (red if rejected)."""
    # scipy.stats.t.ppf is stdtrit(df, q): from scipy.special, so a drift_report run never imports scipy.stats.
    from scipy.special import stdtrit

    table = report.data.table.set_index("hypothesis")
    series = report.data.series
    sectors = table["sector"].notna()
    alpha = report.data.level / max(int(table.loc[sectors, "p_value"].notna().sum()), 1)  # the ten: Bonferroni
    fig, axes = _plt().subplots(2, 6, figsize=(13, 4.2), sharex=True)
    fig.subplots_adjust(left=0.04, right=0.99, top=0.86, bottom=0.08, wspace=0.35, hspace=0.35)
    x = np.arange(len(series))
    for ax, name in zip(axes.flat, series.columns, strict=False):
        values = series[name].to_numpy(dtype="float64")
        row = table.loc[name]
        ax.plot(x[:-1], values[:-1], "o-", color="tab:blue", markersize=3)
        n = int(row["n_history"])
        if n >= 2 and math.isfinite(row["history_sd"]):
            level = alpha if sectors[name] else report.data.level  # the common level: its own test
            half = stdtrit(n - 1, 1 - level / 2) * row["history_sd"] * math.sqrt(1 + 1 / n)
            ax.axhspan(row["history_mean"] - half, row["history_mean"] + half, color="tab:blue", alpha=0.12)
        ax.plot(x[-1], values[-1], "o", color="tab:red" if row["rejected"] else "tab:green", markersize=6)
        ax.set_title(f"{name}: p {row['p_value']:.2g}", fontsize=8)
        ax.set_xticks([0, len(x) - 1], [str(series.index[0]), str(series.index[-1])])
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(series.columns):]:
        ax.axis("off")
    fig.suptitle(f"Data drift {report.quarter}: log1p(count) relative to the other sectors' median; band = "
                 f"prediction interval at {alpha:.2g} (Bonferroni). All sectors: the common level, its own test, "
                 f"band at {report.data.level:g}", fontsize=9)
    return png_base64(fig, dpi=72, tight=False)


def performance_png(report: DriftReport) -> str:
    """The statistic of every earlier quarter and this one; the standardised residual per sector."""
    perf = report.performance
    fig, (hist_ax, z_ax) = _plt().subplots(1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    fig.subplots_adjust(left=0.06, right=0.98, top=0.86, bottom=0.2, wspace=0.2)
    ref = perf.reference
    hist_ax.plot(np.arange(len(ref)), ref.to_numpy(), "o-", color="tab:blue", markersize=3, label="earlier quarters")
    if math.isfinite(perf.statistic):
        hist_ax.plot([len(ref)], [perf.statistic], "o", color="tab:red" if perf.alarm else "tab:green",
                     markersize=7, label=report.quarter)
    ticks = list(range(0, len(ref), max(1, len(ref) // 8)))
    hist_ax.set_xticks(ticks, [str(ref.index[i]) for i in ticks], fontsize=6, rotation=30)
    hist_ax.set_ylabel("max z² over sectors", fontsize=8)
    hist_ax.legend(fontsize=7)
    hist_ax.set_title(f"rank p-value {perf.p_value:.3g} (alarm at ≤ {perf.level:g})", fontsize=9)
    table = perf.table
    z_ax.bar([str(s) for s in table["sector"]], table["z"].fillna(0), color="tab:purple")
    z_ax.axhline(0, color="grey", linewidth=0.8)
    z_ax.set_title("standardised Pearson residual z by sector", fontsize=9)
    z_ax.tick_params(labelsize=7)
    fig.suptitle(f"Performance {report.quarter}: forecast from {report.judged.origin or '-'} "
                 f"({report.judged.source})", fontsize=9)
    return png_base64(fig, dpi=72, tight=False)


def drift_figures(report: DriftReport) -> dict[str, str]:
    """Base64 PNGs by name; the UI and the HTML file embed the same images."""
    return {"data_drift": data_drift_png(report), "performance": performance_png(report)}
