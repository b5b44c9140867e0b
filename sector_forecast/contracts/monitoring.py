"""Pandera contracts for the monitoring edges: the batch predictions and the drift report's per-sector table.

Intervals are checked as intervals, never clipped: lower95 <= lower80 <= prediction <= upper80 <= upper95,
counts >= 0, and an upper bound may be +inf only where calibration had no residuals yet (stated in
``calibration80``/``calibration95`` = "none"). p-values lie in [0, 1]; every quarter has all ten sectors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from sector_forecast.contracts.columns import (
    QUARTER_COLUMN,
    SECTOR_COLUMN,
    is_next_quarter,
    nested_intervals,
    ten_sectors,
)
from sector_forecast.domain.calibration import CALIBRATION_SOURCES

_BOUND = pa.Column("float64", pa.Check.ge(0), nullable=False)
_TEXT = pa.Column(str, pa.Check.str_length(min_value=1), nullable=False)
_FLOAT = pa.Column("float64", nullable=True)


def _infinite_only_uncalibrated(d: pd.DataFrame) -> pd.Series:
    return ((np.isfinite(d["upper80"]) | (d["calibration80"] == "none"))
            & (np.isfinite(d["upper95"]) | (d["calibration95"] == "none")))


BATCH_PREDICTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "origin": QUARTER_COLUMN,
        "sector": SECTOR_COLUMN,
        "quarter": QUARTER_COLUMN,
        "prediction": pa.Column("float64", [pa.Check.ge(0), pa.Check(np.isfinite, element_wise=True)],
                                nullable=False),
        "lower80": _BOUND, "upper80": _BOUND, "lower95": _BOUND, "upper95": _BOUND,
        "calibration80": pa.Column(str, pa.Check.isin(list(CALIBRATION_SOURCES)), nullable=False),
        "calibration95": pa.Column(str, pa.Check.isin(list(CALIBRATION_SOURCES)), nullable=False),
        "model": _TEXT,
        "model_origin": QUARTER_COLUMN,
        "model_version": _TEXT,
        "predicted_at": _TEXT,
    },
    checks=[
        pa.Check(nested_intervals, name="nested_intervals",
                 error="need lower95 <= lower80 <= prediction <= upper80 <= upper95"),
        pa.Check(_infinite_only_uncalibrated, name="infinite_bound_only_uncalibrated",
                 error="an upper bound is +inf only where calibration had no residuals (calibration = none)"),
        pa.Check(lambda d: is_next_quarter(d, "origin", "quarter"), name="forecast_of_next_quarter",
                 error="quarter must be origin + 1"),
        pa.Check(ten_sectors("origin"), name="ten_sectors_per_origin", error="every origin needs all ten sectors"),
    ],
    unique=["origin", "sector", "model_version"],
    name="batch_predictions",
)

MONITOR_TABLE_SCHEMA = pa.DataFrameSchema(
    {
        "quarter": QUARTER_COLUMN,
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
        pa.Check(ten_sectors("quarter"), name="ten_sectors_per_quarter", error="every quarter needs all ten sectors"),
    ],
    unique=["quarter", "sector"],
    name="drift_report",
)
