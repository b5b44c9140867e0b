"""What `drift_report` shows in the UI: each quarter's metadata, the run's summary, and the three WARN checks.

Kept apart from the asset (`assets/monitoring.py`) so that the asset reads as its steps — gather, build,
check, store, show — while the report itself (text, HTML, JSON, files) is `reports/drift_pages.py`.
"""

import math
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from sector_forecast.defs.metadata import markdown_table, number, run_metadata
from sector_forecast.reports.drift_pages import (
    DriftReport,
    drifted,
    image_markdown,
    judged_forecast_key,
    run_table,
    summary_markdown,
)

DATA_DRIFT_CHECK = "data_drift"
COMMON_LEVEL_CHECK = "common_level"
PERFORMANCE_CHECK = "performance_degradation"
_PLOTS = {"data_drift": "Data drift", "performance": "Performance"}
# Short enough for the UI's metadata table to keep key and value apart, `run/` prefix included.
_SHORT = {"performance_degradation": "performance", "common_level": "common"}
NO_PLOTS = ("Plots are drawn for the newest quarters of a bulk run only: materialise this quarter on its own "
            "(or set `plot_quarters: 0`) to draw them.")


def _plots(images: dict[str, str]) -> dict[str, Any]:
    if not images:
        return {"plots": dg.MetadataValue.md(NO_PLOTS)}
    return {f"{name}_plot": dg.MetadataValue.md(image_markdown(title, images[name])) for name, title in _PLOTS.items()}


def partition_metadata(report: DriftReport, images: dict[str, str], files: dict[str, Path]) -> dict[str, Any]:
    """One quarter's page: the report as markdown, its plots, both verdicts with their figures, the files."""
    data, perf = report.data, report.performance
    sector_p, common_p = data.pvalues()
    return {
        "dagster/row_count": dg.MetadataValue.int(len(report.sector_table())),
        "report": dg.MetadataValue.md(summary_markdown(report)),
        **_plots(images),
        "data_drift": dg.MetadataValue.bool(report.data_drift),
        "drifted": dg.MetadataValue.text(", ".join(drifted(report)) or "none"),
        "data_drift_min_pvalue": number(sector_p),
        "common_level": dg.MetadataValue.bool(report.common_level),
        "common_level_pvalue": number(common_p),
        "performance_degradation": dg.MetadataValue.bool(report.degraded),
        "performance_statistic": number(perf.statistic),
        "performance_pvalue": number(perf.p_value),
        "performance_testable": dg.MetadataValue.bool(perf.testable),
        "alarm": dg.MetadataValue.bool(report.alarm),
        "nominal_false_alarm_rate": number(round(sum(report.levels().values()), 6)),
        "judged_source": dg.MetadataValue.text(report.judged.source),
        "retrain": dg.MetadataValue.bool(report.retrain),
        "retrain_reason": dg.MetadataValue.text(report.retrain_reason),
        "judged_forecast": dg.MetadataValue.text(judged_forecast_key(report)),
        "champion_version": dg.MetadataValue.text(str((report.champion or {}).get("version", "none"))),
        "report_html": dg.MetadataValue.path(str(files["html"])),
        "report_json": dg.MetadataValue.path(str(files["json"])),
    }


def run_summary_metadata(reports: dict[str, DriftReport], summary: dict[str, Any], directory: Path,
                         by_horizon: pd.DataFrame) -> dict[str, Any]:
    """The run's Output metadata: a row per quarter, its alarms and false-alarm rates (`run/` when several), and
    the prediction log graded per horizon. The rates are of the quarters outside `known_shifts_excluded`."""
    # Figures of the whole run are labelled `run/` on each partition's page when the run spans several.
    return run_metadata({
        "run_summary": dg.MetadataValue.md(markdown_table(run_table(list(reports.values())), max_rows=100)),
        "alarms": dg.MetadataValue.text(", ".join(summary["alarms"]) or "none"),
        **{f"false_alarm_rate/{_SHORT.get(m, m)}": number(r["rate"] or 0)
           for m, r in summary["false_alarm_rate"].items()},
        "known_shifts_excluded": dg.MetadataValue.text(", ".join(summary["excluded"]) or "none"),
        "nominal_false_alarm_rate": number(summary["nominal_false_alarm_rate"]),
        "reports_dir": dg.MetadataValue.path(str(directory)),
        "performance_by_horizon": dg.MetadataValue.md(
            "Every logged forecast graded once its quarter was published (all versions):\n\n"
            + markdown_table(by_horizon.round(3))),
    }, list(reports), shared={"nominal_false_alarm_rate", "reports_dir", "performance_by_horizon"})


def _check(name: str, newest: DriftReport, flagged: list[str], passed: bool, description: str,
           level: float, testable: bool) -> dg.AssetCheckResult:
    """A monitor's verdict; a monitor that cannot test the quarter says so as a WARN, never a pass."""
    if not testable:
        passed, description = False, f"not applicable — {description}"
    return dg.AssetCheckResult(
        check_name=name, asset_key="drift_report", passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"quarter": dg.MetadataValue.text(newest.quarter),
                  "nominal_false_alarm_rate": number(level),
                  "flagged_quarters_in_run": dg.MetadataValue.text(", ".join(flagged) or "none")},
    )


def monitor_checks(newest: DriftReport, summary: dict[str, Any]) -> list[dg.AssetCheckResult]:
    """The monitors' WARN checks on the run's newest quarter, naming every quarter of the run they flagged."""
    data, perf = newest.data, newest.performance
    sector_p, common_p = data.pvalues()
    return [
        _check(DATA_DRIFT_CHECK, newest, summary["data_drift_alarms"], not newest.data_drift, data.summary,
               data.level, not math.isnan(sector_p)),
        _check(COMMON_LEVEL_CHECK, newest, summary["common_level_alarms"], not newest.common_level, data.summary,
               data.level, not math.isnan(common_p)),
        _check(PERFORMANCE_CHECK, newest, summary["performance_alarms"], not newest.degraded, perf.summary,
               perf.level, perf.testable),
    ]
