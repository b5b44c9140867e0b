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
    described,
    is_horizon_ahead,
    nested_intervals,
    ten_sectors,
)
from sector_forecast.domain.calibration import CALIBRATION_SOURCES
from sector_forecast.domain.features import HORIZONS
from sector_forecast.domain.sectors import SECTOR_CODES

_BOUND = pa.Column("float64", pa.Check.ge(0), nullable=False)
_TEXT = pa.Column(str, pa.Check.str_length(min_value=1), nullable=False)
_FLOAT = pa.Column("float64", nullable=True)


def _infinite_only_uncalibrated(d: pd.DataFrame) -> pd.Series:
    return ((np.isfinite(d["upper80"]) | (d["calibration80"] == "none"))
            & (np.isfinite(d["upper95"]) | (d["calibration95"] == "none")))


BATCH_PREDICTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "origin": described(QUARTER_COLUMN, "forecast origin: the newest quarter of data"),
        "sector": SECTOR_COLUMN,
        "quarter": described(QUARTER_COLUMN, "the quarter forecast: origin + horizon"),
        "horizon": pa.Column("int64", pa.Check.isin(list(HORIZONS)), nullable=False,
                             description="quarters between the origin and the quarter forecast (1–4)"),
        "prediction": pa.Column("float64", [pa.Check.ge(0), pa.Check(np.isfinite, element_wise=True)],
                                nullable=False, description="the champion's expected bankruptcies"),
        **{f"{side}{level}": described(_BOUND, f"{side} bound of the calibrated {level}% interval (+inf: uncalibrated)")
           for level in (80, 95) for side in ("lower", "upper")},
        "calibration80": pa.Column(str, pa.Check.isin(list(CALIBRATION_SOURCES)), nullable=False,
                                   description="where the 80% quantile came from: sector, pooled, validation, none"),
        "calibration95": pa.Column(str, pa.Check.isin(list(CALIBRATION_SOURCES)), nullable=False,
                                   description="where the 95% quantile came from: sector, pooled, validation, none"),
        "model": described(_TEXT, "the champion model"),
        "model_origin": described(QUARTER_COLUMN, "the origin the champion was fitted at"),
        "model_version": described(_TEXT, "registered version of sector-vitality"),
        "predicted_at": described(_TEXT, "when the prediction was made (UTC, ISO 8601)"),
    },
    checks=[
        pa.Check(nested_intervals, name="nested_intervals",
                 error="need lower95 <= lower80 <= prediction <= upper80 <= upper95"),
        pa.Check(_infinite_only_uncalibrated, name="infinite_bound_only_uncalibrated",
                 error="an upper bound is +inf only where calibration had no residuals (calibration = none)"),
        pa.Check(lambda d: is_horizon_ahead(d, "origin", "quarter"), name="forecast_of_origin_plus_horizon",
                 error="quarter must be origin + horizon"),
        pa.Check(ten_sectors(["origin", "horizon"]), name="ten_sectors_per_origin_and_horizon",
                 error="every origin and horizon needs all ten sectors"),
    ],
    unique=["origin", "horizon", "sector", "model_version"],
    name="batch_predictions",
)

MONITOR_TABLE_SCHEMA = pa.DataFrameSchema(
    {
        "quarter": described(QUARTER_COLUMN, "the quarter judged"),
        "sector": SECTOR_COLUMN,
        "bankruptcies": pa.Column("float64", pa.Check.ge(0), nullable=True,
                                  description="the quarter's published bankruptcies"),
        "relative_log": described(_FLOAT, "log bankruptcies relative to the cross-sector median (drift test input)"),
        "n_history": pa.Column("int64", pa.Check.ge(0), nullable=False,
                               description="earlier quarters the drift test compares with (up to 12)"),
        "t_stat": described(_FLOAT, "prediction-interval t statistic of this quarter against its history"),
        "p_value": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True,
                             description="the drift test's p-value (NaN: too little history to test)"),
        "drift_rejected": pa.Column(bool, nullable=False,
                                    description="drift flagged by Benjamini–Hochberg at 5% over the ten sectors"),
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=True,
                                description="the champion's forecast of this quarter"),
        "residual": described(_FLOAT, "(actual - prediction) / sqrt(prediction + 1)"),
        "residual_scale": pa.Column("float64", pa.Check.gt(0), nullable=True,
                                    description="root mean square of the sector's earlier residuals"),
        "z": described(_FLOAT, "residual / residual_scale: the standardised error"),
    },
    checks=[
        pa.Check(lambda d: ~d["drift_rejected"] | d["p_value"].notna(), name="rejected_only_if_tested",
                 error="a sector can be flagged only where it was tested (p-value present)"),
        pa.Check(ten_sectors("quarter"), name="ten_sectors_per_quarter", error="every quarter needs all ten sectors"),
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
        "panel": pa.Column("int64", pa.Check.ge(0), nullable=False,
                           description="the counts shifted (0: the bundled ones; simulated panels: summarised)"),
        "start": described(QUARTER_COLUMN, "the quarter the shift starts in"),
        "sector": pa.Column("Int64", pa.Check.isin(list(SECTOR_CODES)), nullable=True,
                            description="the shifted sector (<NA>: all sectors at once)"),
        "factor": pa.Column("float64", pa.Check.gt(1), nullable=False,
                            description="the shift: counts multiplied by this factor from the start month on"),
        "position": pa.Column("int64", pa.Check.isin([1, 2, 3]), nullable=False,
                              description="the month of the start quarter the shift begins in (1–3)"),
        "data_drift": pa.Column(bool, nullable=False,
                                description="the data tests named what was shifted in the start quarter or the "
                                "next (the sector's drift test; for all sectors the common-level test)"),
        "performance": pa.Column(bool, nullable=False,
                                 description="performance named what was shifted in the start quarter or the next"),
        "detected": pa.Column(bool, nullable=False, description="data_drift or performance"),
        "delay": pa.Column("Int64", pa.Check.isin([0, 1]), nullable=True,
                           description="quarters from the start to the first alarm (<NA>: not detected)"),
    },
    checks=[
        pa.Check(_detected_is_either, name="detected_is_either_monitor", error="detected must be data_drift or "
                 "performance"),
        pa.Check(_delay_only_if_detected, name="delay_only_if_detected", error="a delay exactly where detected"),
    ],
    unique=["panel", "start", "sector", "factor", "position"],
    name="monitor_evaluation",
)
