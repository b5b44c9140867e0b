"""The drift report of one quarter: which forecast is judged, the monitors' verdicts, JSON, markdown, HTML.

No Dagster here: the asset (`assets/monitoring.py`) gathers the inputs and stores what this module returns,
so a report can be rebuilt, and the stored ones summarised (`load_reports` + `domain.drift.drift_summary`),
outside a run. Its plots (`plots.drift_figures`) are PNGs embedded as data URIs, so the HTML file is self-contained.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sector_forecast import clock
from sector_forecast.domain import drift
from sector_forecast.domain.jsonable import to_json
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.storage.values import atomic_write

SECTOR_TABLE_COLUMNS = ["quarter", "sector", "bankruptcies", "relative_log", "n_history", "t_stat", "p_value",
                        "drift_rejected", "prediction", "residual", "residual_scale", "z"]


@dataclass
class Judged:
    """Which forecast for the quarter the performance monitor judged."""

    source: str  # "prediction log" (what batch_predictions served), "backtest" (the leaderboard), or "none"
    model: str | None = None
    model_version: str | None = None
    origin: str | None = None


def judged_forecast(log: pd.DataFrame, champion_rows: pd.DataFrame, quarter: str) -> tuple[pd.DataFrame, Judged]:
    """The forecast made for ``quarter`` at origin quarter − 1: ``sector, prediction`` and where it came from.

    The prediction log first — the first version that served it, since a later champion's re-run is not
    what users received — else the champion's leaderboard row (a real-time rolling-origin forecast too).
    """
    origin = quarter_offset(quarter, -1)
    logged = log[(log["origin"] == origin) & (log["quarter"] == quarter)] if len(log) else log
    if len(logged):
        first = logged.sort_values("predicted_at", kind="mergesort").iloc[0]
        rows = logged[logged["model_version"] == first["model_version"]]
        return (rows[["sector", "prediction"]].reset_index(drop=True),
                Judged("prediction log", str(first["model"]), str(first["model_version"]), origin))
    rows = champion_rows[champion_rows["origin"].astype(str) == origin]
    if len(rows):
        return (rows[["sector", "prediction"]].reset_index(drop=True),
                Judged("backtest", str(rows["model"].iloc[0]), None, origin))
    return pd.DataFrame({"sector": pd.Series(dtype="int64"), "prediction": pd.Series(dtype="float64")}), Judged("none")


@dataclass
class DriftReport:
    """Everything the report says about one quarter."""

    quarter: str
    data: drift.DataDriftResult
    performance: drift.PerformanceResult
    judged: Judged
    champion: dict[str, Any] | None
    retrain: bool
    retrain_reason: str
    counts: pd.DataFrame = field(repr=False)  # sector, bankruptcies of the quarter
    generated_at: str = field(default_factory=lambda: clock.now().isoformat(timespec="seconds"))
    # Built once: the JSON, HTML, markdown, metadata and contract show it (7 calls a report; docs/benchmarks.md).
    _table: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def data_drift(self) -> bool:
        return self.data.alarm

    @property
    def common_level(self) -> bool:
        return self.data.common_alarm

    @property
    def degraded(self) -> bool:
        return self.performance.alarm

    @property
    def alarm(self) -> bool:
        return self.data_drift or self.common_level or self.degraded

    def headline(self) -> str:
        champ = (f"champion v{self.champion['version']} ({self.champion['model']}, origin {self.champion['origin']})"
                 if self.champion else "no champion registered")
        return (f"{self.quarter}: {'DATA DRIFT' if self.data_drift else 'no data drift'}; "
                f"{'COMMON LEVEL SHIFT' if self.common_level else 'common level as usual'}; "
                f"{'PERFORMANCE DEGRADED' if self.degraded else 'performance as usual'}; "
                f"{'RETRAIN' if self.retrain else 'no retrain'} — {champ}")

    def levels(self) -> dict[str, float]:
        """Each monitor's level: its nominal false-alarm rate a quarter."""
        return {"data_drift": self.data.level, "common_level": self.data.level,
                "performance_degradation": self.performance.level}

    def sector_table(self) -> pd.DataFrame:
        """One row per sector: its data-drift test and its judged forecast error (the contract-checked part)."""
        if self._table is None:
            self._table = self._build_sector_table()
        return self._table.copy()  # a caller's change must not reach the next caller

    def _build_sector_table(self) -> pd.DataFrame:
        tests = self.data.table.dropna(subset=["sector"]).astype({"sector": "int64"}).rename(columns={
            "value": "relative_log", "rejected": "drift_rejected"})
        counts = self.counts.assign(bankruptcies=pd.to_numeric(
            self.counts["bankruptcies"].astype("Float64"), errors="coerce").astype("float64"))
        perf = self.performance.table[["sector", "prediction", "residual", "residual_scale", "z"]]
        table = (counts[["sector", "bankruptcies"]].astype({"sector": "int64"})
                 .merge(tests, on="sector", how="left").merge(perf, on="sector", how="left"))
        table = table.assign(quarter=self.quarter, n_history=table["n_history"].fillna(0).astype("int64"),
                             drift_rejected=table["drift_rejected"].fillna(False).astype(bool))
        return table[SECTOR_TABLE_COLUMNS].sort_values("sector", ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored beside the HTML and logged to MLflow (NaN becomes null)."""
        return to_json({
            "quarter": self.quarter, "generated_at": self.generated_at, "headline": self.headline(),
            "flags": {"data_drift": self.data_drift, "common_level": self.common_level,
                      "performance_degradation": self.degraded, "degraded": self.degraded, "alarm": self.alarm,
                      "retrain": self.retrain},
            "levels": {**self.levels(), "nominal_false_alarm_rate": round(sum(self.levels().values()), 6)},
            "champion": self.champion, "judged_forecast": vars(self.judged), "retrain_reason": self.retrain_reason,
            "data_drift": self.data.to_dict(), "performance": self.performance.to_dict(),
            "per_sector": self.sector_table().to_dict("records"),
        })


def judged_forecast_key(report: DriftReport) -> str:
    """`<quarter>@v<version>`: the quarter and the champion version a retrain flag is about (the sensor acts once)."""
    version = (report.champion or {}).get("version")
    return f"{report.quarter}@v{version}" if version else f"{report.quarter}@-"


def retrain_decision(quarter: str, alarm: bool, champion: dict[str, Any] | None) -> tuple[bool, str]:
    """Retrain when a monitor alarms on a quarter the champion in service was not trained on.

    The champion fitted at origin o has seen quarters <= o; an alarm there is history (a cold run replays it)
    and a refit would not change it. After the retrain the champion's origin is the quarter, so the same
    report stops asking: monitoring and retraining cannot loop.
    """
    if not alarm:
        return False, "no alarm"
    if not champion:
        return False, "alarm, but no champion is registered to retrain"
    origin = str(champion.get("origin") or "")
    if origin and quarter <= origin:
        return False, f"alarm on {quarter}, which champion v{champion['version']} (origin {origin}) was trained on"
    return True, (f"alarm on {quarter}, after champion v{champion['version']}'s origin {origin or '?'}: "
                  "re-fit at the newest origin and re-run the gate")


def build_report(
    quarter: str, counts: pd.DataFrame, log: pd.DataFrame, champion_rows: pd.DataFrame,
    champion: dict[str, Any] | None, data_level: float = drift.DATA_DRIFT_LEVEL,
    performance_level: float = drift.PERFORMANCE_LEVEL,
) -> DriftReport:
    """Run the three monitors for ``quarter`` (data drift and the common level from ``data_level``).

    ``counts``: panel rows ``sector, quarter, bankruptcies`` covering the history window; ``log``: the
    prediction log; ``champion_rows``: the champion model's leaderboard rows (``sector, origin,
    target_quarter, prediction, actual``).
    """
    data = drift.data_drift(counts, quarter, level=data_level)
    now = counts.loc[counts["quarter"] == quarter, ["sector", "bankruptcies"]]
    forecast, judged = judged_forecast(log, champion_rows, quarter)
    current = forecast.merge(now.rename(columns={"bankruptcies": "actual"}), on="sector", how="left")
    performance = drift.performance_degradation(champion_rows, current, quarter, level=performance_level)
    retrain, reason = retrain_decision(quarter, data.alarm or data.common_alarm or performance.alarm, champion)
    return DriftReport(quarter, data, performance, judged, champion, retrain, reason, counts=now)


def report_dir(root: Path) -> Path:
    """Where the reports of the store at `root` are kept: `<quarter>.json` and `<quarter>.html`."""
    return root / "monitoring" / "drift_report"


def write_report(report: DriftReport, images: dict[str, str], directory: Path) -> dict[str, Path]:
    """Store the report as JSON and as self-contained HTML in `directory`; return both paths by kind."""
    files = {"json": directory / f"{report.quarter}.json", "html": directory / f"{report.quarter}.html"}
    payload = report.to_dict()
    atomic_write(files["json"], lambda tmp: tmp.write_text(json.dumps(payload, indent=1)))
    atomic_write(files["html"], lambda tmp: tmp.write_text(to_html(report, images)))
    return files


def load_reports(directory: Path) -> list[dict[str, Any]]:
    """The stored JSON reports (``<store>/monitoring/drift_report/*.json``), oldest quarter first."""
    return [json.loads(p.read_text()) for p in sorted(Path(directory).glob("*.json"))]


def drifted(report: DriftReport) -> list[str]:
    """The data-drift hypotheses the report rejects (sectors, then the common level), in test order."""
    table = report.data.table
    return table.loc[table["rejected"], "hypothesis"].tolist()


def run_table(reports: list[DriftReport]) -> pd.DataFrame:
    """One row per quarter of a run: the verdicts and the retrain flag (the run's summary in the UI)."""
    return pd.DataFrame([{"quarter": r.quarter, "data_drift": r.data_drift, "common_level": r.common_level,
                          "drifted": ", ".join(drifted(r)), "performance_p": r.performance.p_value,
                          "degraded": r.degraded, "retrain": r.retrain} for r in reports])


# ---- text ---------------------------------------------------------------------------------------------------

def summary_markdown(report: DriftReport) -> str:
    """The report's text part: verdicts with their levels, the judged forecast, the per-sector table."""
    j, champ = report.judged, report.champion
    lines = [
        f"## Drift report {report.quarter}", "", f"**{report.headline()}**", "",
        f"- **Data drift and common level** (nominal false-alarm rate {report.data.level:g} a quarter each): "
        f"{report.data.summary}.",
        f"- **Performance** (nominal false-alarm rate {report.performance.level:g} a quarter): "
        f"{report.performance.summary}. Judged: the forecast made at {j.origin or '-'} ({j.source}"
        + (f", version {j.model_version}" if j.model_version else "") + ").",
        f"- **Retrain**: {'yes' if report.retrain else 'no'} — {report.retrain_reason}.",
    ]
    if champ:
        run = f", MLflow run `{champ['run_id']}`" if champ.get("run_id") else ""
        lines.append(f"- **Champion**: `sector-vitality` version {champ['version']} ({champ['model']}, origin "
                     f"{champ['origin']}){run}.")
    lines += ["", "### Per sector", "", report.sector_table().to_markdown(index=False, floatfmt=".4g")]
    return "\n".join(lines)


def image_markdown(title: str, png: str) -> str:
    return f"### {title}\n\n![{title}](data:image/png;base64,{png})"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}
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

    fmt = {"float_format": lambda v: f"{v:.4g}", "na_rep": "–", "index": False}
    body = [
        f"<h1>Sector forecast drift report {html.escape(report.quarter)}</h1>",
        f"<p>{html.escape(report.headline())}<br><small>generated {report.generated_at}</small></p>",
        "<p>" + flag("data drift", report.data_drift) + flag("common level", report.common_level)
        + flag("performance degradation", report.degraded) + flag("retrain", report.retrain) + "</p>",
        f"<h2>Data drift and common level</h2><p>{html.escape(report.data.summary)} (nominal false-alarm rate "
        f"{report.data.level:g} a quarter each)</p>",
        _img("data drift", images.get("data_drift")),
        report.data.table.to_html(**fmt),
        f"<h2>Performance</h2><p>{html.escape(report.performance.summary)} (nominal false-alarm rate "
        f"{report.performance.level:g} a quarter)</p>",
        _img("performance", images.get("performance")),
        f"<h2>Per sector</h2>{report.sector_table().to_html(**fmt)}",
        f"<p>Retrain: {html.escape(report.retrain_reason)}</p>",
    ]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Drift report {report.quarter}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")


def evaluation_tables(ev: Any) -> dict[str, str]:
    """Markdown of ``monitoreval.MonitorEvaluation``: simulated false alarms, detection shares, per-sector grid."""
    sim = ev.simulated[["monitor", "level", "panels", "quarters", "alarms", "rate", "panel_rate_median",
                        "panel_rate_p90", "panels_over_10pct"]]
    if ev.grid.empty:
        none = ("No quarter yet where both monitors can test a shift and its next quarter (the performance "
                "monitor needs 19 earlier ranked quarters): no detection grid.")
        return {"false_alarms_simulated": sim.to_markdown(index=False, floatfmt=".3f"), "detection": none,
                "null_model": "```json\n" + json.dumps(ev.null_model, indent=1) + "\n```"}
    grid = ev.grid.assign(sector=ev.grid["sector"].astype("string").fillna("all"))
    per_sector = grid.pivot_table(index="sector", columns="factor", values="detected", aggfunc="mean")
    per_sector.columns = [f"×{f:g}" for f in per_sector.columns]
    per_position = grid.pivot_table(index="position", columns="factor", values="detected", aggfunc="mean")
    per_position.columns = [f"×{f:g}" for f in per_position.columns]
    fmt = ".3f"
    return {
        "false_alarms_simulated": sim.to_markdown(index=False, floatfmt=fmt),
        "detection": ev.shares.to_markdown(index=False, floatfmt=fmt),
        "detection_by_sector": per_sector.reset_index().to_markdown(index=False, floatfmt=fmt),
        "detection_by_start_month": per_position.reset_index().to_markdown(index=False, floatfmt=fmt),
        "detection_simulated": ev.shares_simulated.to_markdown(index=False, floatfmt=fmt),
        "null_model": "```json\n" + json.dumps(ev.null_model, indent=1) + "\n```",
    }


def evaluation_figures(summary: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of ``monitoreval.evaluation_summary`` as flat keys (UI metadata the charts can plot)."""
    detection = summary["detection"]
    return {
        **{f"false_alarm_rate_simulated/{m}": v["rate"] for m, v in summary["false_alarm_rate_simulated"].items()
           if v["rate"] is not None},
        **{f"detected/one_sector_x{f}": v for f, v in detection.items() if isinstance(v, float)},
        **{f"detected/all_sectors_x{f}": v for f, v in detection["all_sectors"].items()},
    }
