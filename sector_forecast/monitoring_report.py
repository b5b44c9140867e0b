"""The drift report of one quarter: assembled from the domain statistics, rendered as JSON, markdown and HTML.

No Dagster here: the asset (`assets/monitoring.py`) gathers the inputs and stores what this module returns,
so the same report can be rebuilt and read outside a run. Plots are PNGs embedded as data URIs, so the
HTML file is self-contained (it opens from disk or as an MLflow artifact without any other file).
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sector_forecast.domain.drift import DriftResult, RealisedError  # noqa: E402

TOP_FEATURES_PLOTTED = 4


@dataclass
class DriftReport:
    """Everything the report says about one quarter, plus the samples its plots are drawn from."""

    quarter: str
    window: list[str]
    champion: dict[str, Any] | None
    reference_span: str
    features: DriftResult
    prediction: dict[str, Any]
    realised: RealisedError
    thresholds: dict[str, float]
    reference: pd.DataFrame = field(repr=False)
    current: pd.DataFrame = field(repr=False)
    reference_predictions: np.ndarray = field(repr=False)
    current_predictions: np.ndarray = field(repr=False)
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def data_drift(self) -> bool:
        return self.features.dataset_drift

    @property
    def retrain(self) -> bool:
        return self.realised.retrain

    def headline(self) -> str:
        champ = (f"champion v{self.champion['version']} ({self.champion['model']}, origin {self.champion['origin']})"
                 if self.champion else "no champion registered")
        return (f"{self.quarter}: {'DATA DRIFT' if self.data_drift else 'no data drift'}; "
                f"{'RETRAIN' if self.retrain else 'no retrain'} — {champ}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored beside the HTML and logged to MLflow (NaN becomes null)."""
        table = self.features.table
        return _jsonable({
            "quarter": self.quarter, "generated_at": self.generated_at, "headline": self.headline(),
            "flags": {"data_drift": self.data_drift, "degraded": self.realised.degraded, "retrain": self.retrain},
            "champion": self.champion, "thresholds": self.thresholds,
            "current": {"quarters": self.window, "rows": len(self.current)},
            "reference": {"quarters": self.reference_span, "rows": len(self.reference)},
            "data_drift": {**self.features.to_dict(), "features": table.to_dict("records")},
            "prediction_shift": self.prediction,
            "realised_error": {**self.realised.to_dict(), "per_sector": self.realised.table.to_dict("records")},
        })


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ---- plots --------------------------------------------------------------------------------------------------

def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def feature_drift_png(report: DriftReport) -> str:
    """KS statistic (drifted features in red) and PSI per monitored feature."""
    table = report.features.table.iloc[::-1]
    colors = ["tab:red" if d else ("lightgrey" if n == "sample too small" else "tab:blue")
              for d, n in zip(table["drifted"], table["note"], strict=True)]
    fig, (ks_ax, psi_ax) = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
    fig.subplots_adjust(left=0.2, right=0.98, top=0.9, bottom=0.12, wspace=0.05)
    ks_ax.barh(table["column"], table["ks_stat"].fillna(0), color=colors)
    ks_ax.set_xlabel(f"KS statistic (red: p < {report.thresholds['p_threshold']:g})")
    psi_ax.barh(table["column"], table["psi"].fillna(0), color=colors)
    for x in (0.1, 0.25):
        psi_ax.axvline(x, color="grey", linestyle=":", linewidth=1)
    psi_ax.set_xlabel("PSI (0.1 moderate, 0.25 large)")
    ks_ax.tick_params(labelsize=7)
    fig.suptitle(f"Feature drift {report.quarter}: {report.features.summary}", fontsize=9)
    return _png(fig)


def distributions_png(report: DriftReport) -> str:
    """Empirical CDFs, reference vs current, of the features that moved most."""
    ranked = report.features.table.dropna(subset=["ks_stat"]).sort_values("ks_stat", ascending=False)
    columns = list(ranked["column"].head(TOP_FEATURES_PLOTTED))
    fig, axes = plt.subplots(1, max(1, len(columns)), figsize=(3.2 * max(1, len(columns)), 2.8), squeeze=False)
    fig.subplots_adjust(left=0.05, right=0.98, top=0.8, bottom=0.12, wspace=0.25)
    for ax, col in zip(axes[0], columns, strict=False):
        samples = ((report.reference, "reference", "tab:blue"), (report.current, "current", "tab:red"))
        for frame, label, color in samples:
            values = np.sort(pd.to_numeric(frame[col], errors="coerce").dropna().to_numpy())
            if len(values):
                ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=label, color=color)
        ax.set_title(col, fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Empirical CDF: reference (champion's training window) vs current window", fontsize=9)
    return _png(fig)


def predictions_png(report: DriftReport) -> str:
    """Forecast distribution shift, and the quarter's forecast against its published score."""
    fig, (dist_ax, err_ax) = plt.subplots(1, 2, figsize=(10, 3.2))
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.15, wspace=0.2)
    both = np.concatenate([report.reference_predictions, report.current_predictions])
    bins = np.linspace(np.min(both), np.max(both), 31) if len(both) else np.linspace(0, 1, 31)
    if len(report.reference_predictions):
        dist_ax.hist(report.reference_predictions, bins=bins, density=True, alpha=0.5, label="reference")
    if len(report.current_predictions):
        dist_ax.hist(report.current_predictions, bins=bins, density=True, alpha=0.5, label="current", color="tab:red")
    dist_ax.set_xlabel("forecast score")
    dist_ax.legend(fontsize=7)
    dist_ax.set_title("Prediction distribution", fontsize=9)
    table = report.realised.table
    if len(table):
        x = np.arange(len(table))
        err_ax.bar(x - 0.2, table["prediction"], width=0.4, label="forecast")
        err_ax.bar(x + 0.2, table["actual"].fillna(0), width=0.4, label="published score", color="tab:green")
        err_ax.set_xticks(x, [str(s) for s in table["sector"]])
        low = np.nanmin([table["prediction"].min(), table["actual"].min()])
        err_ax.set_ylim(max(0.0, low - 0.05), 1.0)
        err_ax.legend(fontsize=7)
    err_ax.set_title(f"Forecast for {report.quarter} ({report.realised.source})", fontsize=9)
    err_ax.set_xlabel("sector")
    return _png(fig)


def figures(report: DriftReport) -> dict[str, str]:
    """Base64 PNGs by name; the UI and the HTML file embed the same images."""
    return {"feature_drift": feature_drift_png(report), "distributions": distributions_png(report),
            "predictions": predictions_png(report)}


# ---- text ---------------------------------------------------------------------------------------------------

def feature_table(report: DriftReport) -> pd.DataFrame:
    return report.features.table.rename(columns={"column": "feature"})


def _prediction_line(p: dict[str, Any]) -> str:
    if not p.get("n_cur"):
        return f"no logged forecasts for the window ({p.get('note', '')})"
    return (f"mean forecast {p['mean_ref']:.4f} → {p['mean_cur']:.4f} (shift {p['mean_shift']:+.4f}); "
            f"KS {p['ks_stat']:.3f} (p {p['p_value']:.3g}), PSI {p['psi']:.3f}; "
            f"n {p['n_ref']} vs {p['n_cur']}. {p.get('note', '')}")


def summary_markdown(report: DriftReport) -> str:
    """The report's text part: verdicts, samples, per-feature table, prediction shift, realised error."""
    t, r = report.thresholds, report.realised
    champ = report.champion
    lines = [
        f"## Drift report {report.quarter}", "",
        f"**{report.headline()}**", "",
        f"- **Current sample**: the feature rows of {report.window[0]}..{report.window[-1]} "
        f"({len(report.current)} rows: {len(report.window)} quarters × 10 sectors — a single quarter's 10 "
        "rows are too few for a KS test).",
        f"- **Reference**: the champion's training rows before the window, {report.reference_span} "
        f"({len(report.reference)} rows).",
        f"- **Data drift**: {report.features.summary}. A feature drifts at KS p < {t['p_threshold']:g}; "
        f"the dataset at ≥ {t['share_threshold']:.0%} of testable features; fewer than {t['min_samples']:g} "
        "values on a side is not tested.",
        f"- **Prediction shift**: {_prediction_line(report.prediction)}",
        f"- **Realised error**: {r.note}. Retrain when worse than the backtest MAE by more than "
        f"{t['margin']:.0%}: **{'yes' if r.retrain else 'no'}**.",
    ]
    if champ:
        lines.append(f"- **Champion**: `sector-vitality` version {champ['version']} ({champ['model']}, origin "
                     f"{champ['origin']}, backtest MAE {champ['backtest_mae']:.4f}), MLflow run `{champ['run_id']}`.")
    lines += ["", "### Per-feature drift", "", feature_table(report).to_markdown(index=False, floatfmt=".4g")]
    if len(r.table):
        lines += ["", f"### Forecast for {report.quarter} vs published score", "",
                  r.table.to_markdown(index=False, floatfmt=".4f")]
    return "\n".join(lines)


def image_markdown(title: str, png: str) -> str:
    return f"### {title}\n\n![{title}](data:image/png;base64,{png})"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}.flag{padding:6px 10px;border-radius:4px;display:inline-block;margin-right:8px}
.warn{background:#fde2e1}.ok{background:#e3f5e1}img{max-width:100%}"""


def _img(alt: str, png: str | None) -> str:
    if png is None:
        return "<p><em>Plot not drawn in this bulk run; materialise the quarter on its own to draw it.</em></p>"
    return f'<img alt="{alt}" src="data:image/png;base64,{png}">'


def to_html(report: DriftReport, images: dict[str, str]) -> str:
    """A self-contained HTML page: verdicts, tables and the embedded plots."""
    def flag(name: str, on: bool) -> str:
        return f'<span class="flag {"warn" if on else "ok"}">{html.escape(name)}: {"yes" if on else "no"}</span>'

    t, r = report.thresholds, report.realised
    body = [
        f"<h1>Sector Vitality drift report {html.escape(report.quarter)}</h1>",
        f"<p>{html.escape(report.headline())}<br><small>generated {report.generated_at}</small></p>",
        "<p>" + flag("data drift", report.data_drift) + flag("degraded", r.degraded)
        + flag("retrain", report.retrain) + "</p>",
        f"<p>Current: {len(report.current)} feature rows of {report.window[0]}..{report.window[-1]}. Reference: "
        f"the champion's training rows {html.escape(report.reference_span)} ({len(report.reference)} rows). "
        f"Thresholds: KS p &lt; {t['p_threshold']:g}, dataset share ≥ {t['share_threshold']:.0%}, "
        f"min samples {t['min_samples']:g}, retrain margin {t['margin']:.0%}.</p>",
        f"<h2>Data drift</h2><p>{html.escape(report.features.summary)}</p>",
        _img("feature drift", images.get("feature_drift")),
        feature_table(report).to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–"),
        _img("distributions", images.get("distributions")),
        f"<h2>Predictions</h2><p>{html.escape(_prediction_line(report.prediction))}</p>",
        f"<p>{html.escape(r.note)}</p>",
        _img("predictions", images.get("predictions")),
        r.table.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="–") if len(r.table) else "",
    ]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Drift report {report.quarter}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")
