"""Pandera contracts for the monitoring edges: the batch predictions and the drift report's per-sector table.

Intervals are checked as intervals, never clipped: lower95 <= lower80 <= prediction <= upper80 <= upper95,
counts >= 0, and an upper bound may be +inf only where calibration had no residuals yet (stated in
``calibration80``/``calibration95`` = "none"). p-values lie in [0, 1]; every quarter has all ten sectors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from sector_forecast.contracts.inputs import QUARTER_REGEX, SECTOR_COLUMN
from sector_forecast.domain.calibration import CALIBRATION_SOURCES
from sector_forecast.domain.sectors import SECTOR_CODES

_QUARTER = pa.Column(str, pa.Check.str_matches(QUARTER_REGEX), nullable=False)
_BOUND = pa.Column("float64", pa.Check.ge(0), nullable=False)
_TEXT = pa.Column(str, pa.Check.str_length(min_value=1), nullable=False)
_FLOAT = pa.Column("float64", nullable=True)


def _nested(d: pd.DataFrame) -> pd.Series:
    values = d[["lower95", "lower80", "prediction", "upper80", "upper95"]].to_numpy(dtype="float64")
    return pd.Series((np.diff(values, axis=1) >= -1e-9).all(axis=1), index=d.index)


def _infinite_only_uncalibrated(d: pd.DataFrame) -> pd.Series:
    return ((np.isfinite(d["upper80"]) | (d["calibration80"] == "none"))
            & (np.isfinite(d["upper95"]) | (d["calibration95"] == "none")))


def _ten_sectors(key: str):
    return lambda d: d.groupby(key)["sector"].transform("nunique") == len(SECTOR_CODES)


def _next_quarter(d: pd.DataFrame) -> pd.Series:
    origin = pd.PeriodIndex(d["origin"], freq="Q")
    return pd.Series((origin + 1).strftime("%YQ%q") == d["quarter"].to_numpy(), index=d.index)


BATCH_PREDICTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "origin": _QUARTER,
        "sector": SECTOR_COLUMN,
        "quarter": _QUARTER,
        "prediction": pa.Column("float64", [pa.Check.ge(0), pa.Check(np.isfinite, element_wise=True)],
                                nullable=False),
        "lower80": _BOUND, "upper80": _BOUND, "lower95": _BOUND, "upper95": _BOUND,
        "calibration80": pa.Column(str, pa.Check.isin(list(CALIBRATION_SOURCES)), nullable=False),
        "calibration95": pa.Column(str, pa.Check.isin(list(CALIBRATION_SOURCES)), nullable=False),
        "model": _TEXT,
        "model_origin": _QUARTER,
        "model_version": _TEXT,
        "predicted_at": _TEXT,
    },
    checks=[
        pa.Check(_nested, name="nested_intervals",
                 error="need lower95 <= lower80 <= prediction <= upper80 <= upper95"),
        pa.Check(_infinite_only_uncalibrated, name="infinite_bound_only_uncalibrated",
                 error="an upper bound is +inf only where calibration had no residuals (calibration = none)"),
        pa.Check(_next_quarter, name="forecast_of_next_quarter", error="quarter must be origin + 1"),
        pa.Check(_ten_sectors("origin"), name="ten_sectors_per_origin", error="every origin needs all ten sectors"),
    ],
    unique=["origin", "sector", "model_version"],
    name="batch_predictions",
)

MONITOR_TABLE_SCHEMA = pa.DataFrameSchema(
    {
        "quarter": _QUARTER,
        "sector": SECTOR_COLUMN,
        "bankruptcies": pa.Column("float64", pa.Check.ge(0), nullable=True),
        "relative_log": _FLOAT,
        "n_history": pa.Column("int64", pa.Check.ge(0), nullable=False),
        "t_stat": _FLOAT,
        "p_value": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True),
        "drift_rejected": pa.Column(bool, nullable=False),
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=True),
        "residual": _FLOAT,
        "residual_scale": pa.Column("float64", pa.Check.gt(0), nullable=True),
        "z": _FLOAT,
    },
    checks=[
        pa.Check(lambda d: ~d["drift_rejected"] | d["p_value"].notna(), name="rejected_only_if_tested",
                 error="a sector can be flagged only where it was tested (p-value present)"),
        pa.Check(_ten_sectors("quarter"), name="ten_sectors_per_quarter", error="every quarter needs all ten sectors"),
    ],
    unique=["quarter", "sector"],
    name="drift_report",
)


def _detected_is_either(d: pd.DataFrame) -> pd.Series:
    return d["detected"] == (d["data_drift"] | d["performance"])


def _delay_only_if_detected(d: pd.DataFrame) -> pd.Series:
    return d["delay"].notna() == d["detected"]


MONITOR_EVALUATION_SCHEMA = pa.DataFrameSchema(
    {
        "panel": pa.Column("int64", pa.Check.ge(0), nullable=False),
        "start": _QUARTER,
        "sector": pa.Column("Int64", pa.Check.isin(list(SECTOR_CODES)), nullable=True),  # <NA>: all sectors
        "factor": pa.Column("float64", pa.Check.gt(1), nullable=False),
        "position": pa.Column("int64", pa.Check.isin([1, 2, 3]), nullable=False),
        "data_drift": pa.Column(bool, nullable=False),
        "performance": pa.Column(bool, nullable=False),
        "detected": pa.Column(bool, nullable=False),
        "delay": pa.Column("Int64", pa.Check.isin([0, 1]), nullable=True),
    },
    checks=[
        pa.Check(_detected_is_either, name="detected_is_either_monitor", error="detected must be data_drift or "
                 "performance"),
        pa.Check(_delay_only_if_detected, name="delay_only_if_detected", error="a delay exactly where detected"),
    ],
    unique=["panel", "start", "sector", "factor", "position"],
    name="monitor_evaluation",
)
