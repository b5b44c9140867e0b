"""Pandera contracts for the model edges: each fit's predictions, leaderboard, promotion gate and forecasts.

Intervals are checked as intervals (lower <= point <= upper, 80% inside 95%) and never clipped: a count's
lower bound is 0 by support, a score's bounds lie in (0, 1) by definition.
"""

from __future__ import annotations

import pandera.pandas as pa

from sector_forecast.contracts.columns import QUARTER_COLUMN, SECTOR_COLUMN, is_next_quarter, nested_intervals

_SHARE = pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True)
_NONNEG = pa.Column("float64", pa.Check.ge(0), nullable=True)


PREDICTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "model": pa.Column(str, nullable=False),
        "sector": SECTOR_COLUMN,
        "origin": QUARTER_COLUMN,
        "target_quarter": QUARTER_COLUMN,
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=False),
        "actual": _NONNEG,
        "current": _NONNEG,
        "scale": pa.Column("float64", pa.Check.gt(0), nullable=False),
    },
    checks=[
        pa.Check(lambda d: is_next_quarter(d, "origin", "target_quarter"), name="target_is_next_quarter",
                 error="target_quarter must be origin + 1"),
    ],
    unique=["model", "sector", "origin"],
    name="predictions",
)

LEADERBOARD_SCHEMA = pa.DataFrameSchema(
    {
        "model": pa.Column(str, nullable=False),
        "target": pa.Column(str, pa.Check.isin(["bankruptcies", "score"]), nullable=False),
        "n": pa.Column("int64", pa.Check.gt(0), nullable=False),
        "mae": _NONNEG,
        "mase": _NONNEG,
        "coverage80": _SHARE,
        "coverage95": _SHARE,
        "interval_score": _NONNEG,
    },
    unique=["model", "target"],
    name="backtest_leaderboard",
)

GATE_SCHEMA = pa.DataFrameSchema(
    {
        "champion": pa.Column(str, nullable=False),
        "baseline": pa.Column(str, pa.Check.isin(["naive", "seasonal_naive"]), nullable=False),
        "pvalue": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True),
        "promoted": pa.Column(bool, nullable=False),
    },
    checks=[
        pa.Check(lambda d: d["promoted"] | (d["champion"] == d["baseline"]), name="baseline_unless_promoted",
                 error="without promotion the champion must be the better baseline"),
    ],
    name="champion_model",
)

FORECASTS_SCHEMA = pa.DataFrameSchema(
    {
        "sector": SECTOR_COLUMN,
        "quarter": QUARTER_COLUMN,
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=False),
        "lower80": _NONNEG, "upper80": _NONNEG, "lower95": _NONNEG, "upper95": _NONNEG,
        **{f"score_{c}": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True)
           for c in ("prediction", "lower80", "upper80", "lower95", "upper95")},
        "model": pa.Column(str, nullable=False),
        "data_source": pa.Column(str, nullable=False),
    },
    checks=[
        pa.Check(nested_intervals, name="nested_intervals",
                 error="need lower95 <= lower80 <= prediction <= upper80 <= upper95"),
        pa.Check(lambda d: nested_intervals(d, "score_"), name="nested_score_intervals",
                 error="score intervals must nest around the score forecast"),
    ],
    unique=["sector", "quarter"],
    name="forecasts",
)
