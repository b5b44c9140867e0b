"""Monitoring in MLflow: which registered version is in service, and drift reports logged to its run.

MLflow is imported where it is called, as in `runs.py`: defining the graph must not load it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sector_forecast.domain.periods import quarter_index
from sector_forecast.reports.drift_pages import DriftReport

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def champion_version_info(client: MlflowClient, registered_model: str, version: str) -> dict[str, Any]:
    """Registry facts about one version of the registered model: model, training origin, run."""
    mv = client.get_model_version(registered_model, version)
    return {"version": str(mv.version), "model": mv.tags.get("model"), "origin": mv.tags.get("origin"),
            "run_id": mv.run_id, "uri": f"models:/{registered_model}/{mv.version}"}


def champion_name(champion_model: dict) -> str:
    """The model in service: the registry's current version's model, else the gate's champion."""
    return str(champion_model.get("champion_model") or champion_model["champion"])


def champion_in_service(client: MlflowClient, registered_model: str, champion_model: dict) -> dict | None:
    """Registry facts of the champion in service (its training origin decides whether an alarm asks to retrain)."""
    version = champion_model.get("champion_version")
    if not version:
        return None
    info = champion_version_info(client, registered_model, str(version))
    info["model"] = info["model"] or champion_name(champion_model)
    info["origin"] = info["origin"] or champion_model.get("origin")
    return info


METRIC_KEYS = ("monitoring_data_drift_min_pvalue", "monitoring_common_level_pvalue",
               "monitoring_performance_statistic", "monitoring_performance_pvalue", "monitoring_alarm")


class MlflowReportLogger:
    """Report files as artefacts of the champion's run; headline numbers as metrics stepped by quarter.

    Artefacts are overwritten on a re-run, and a (step, value) already in a metric's history is not logged
    again, so re-running a quarter does not grow the history. Histories are read once and new metrics
    written in one batch per run.
    """

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client, self.run_id = client, run_id
        self.seen = {k: {(m.step, round(m.value, 12)) for m in self.client.get_metric_history(run_id, k)}
                     for k in METRIC_KEYS}
        self.pending: list = []  # mlflow.entities.Metric, imported where one is made

    def add(self, report: DriftReport, files: dict[str, Path]) -> None:
        from mlflow.entities import Metric

        for name, path in files.items():
            self.client.log_text(self.run_id, path.read_text(), f"monitoring/drift_report_{report.quarter}.{name}")
        step = quarter_index(report.quarter)
        values = (*report.data.pvalues(), report.performance.statistic, report.performance.p_value,
                  float(report.alarm))
        now = int(time.time() * 1000)
        for key, value in zip(METRIC_KEYS, values, strict=True):
            if value is not None and np.isfinite(value) and (step, round(float(value), 12)) not in self.seen[key]:
                self.pending.append(Metric(key, float(value), now, step))

    def flush(self) -> None:
        if self.pending:
            self.client.log_batch(self.run_id, metrics=self.pending)
            self.pending = []
