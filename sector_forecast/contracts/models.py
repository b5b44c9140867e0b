"""Pandera contracts for the evaluation edges: leaderboard, promotion gate and forecasts.

Intervals are checked as intervals (lower <= point <= upper, 80% inside 95%) and never clipped: a count's
lower bound is 0 by support, a score's bounds lie in (0, 1) by definition.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from sector_forecast.contracts.inputs import QUARTER_REGEX, SECTOR_COLUMN
from sector_forecast.domain.models import BASELINES

_QUARTER = pa.Column(str, pa.Check.str_matches(QUARTER_REGEX), nullable=False)
_SHARE = pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True)
_NONNEG = pa.Column("float64", pa.Check.ge(0), nullable=True)


def _nested(d: pd.DataFrame, prefix: str = "") -> pd.Series:
    """lower95 <= lower80 <= point <= upper80 <= upper95 (NaN rows pass: a missing forecast is its own check)."""
    p = f"{prefix}prediction" if prefix else "prediction"
    cols = [f"{prefix}lower95", f"{prefix}lower80", p, f"{prefix}upper80", f"{prefix}upper95"]
    values = d[cols].astype("float64")
    ordered = (values.diff(axis=1).iloc[:, 1:] >= -1e-12).all(axis=1)
    return ordered | values.isna().any(axis=1)


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
        "baseline": pa.Column(str, pa.Check.isin(list(BASELINES)), nullable=False),
        "pvalue": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True),
        "pvalue_holm": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True),
        "promoted": pa.Column(bool, nullable=False),
    },
    checks=[
        pa.Check(lambda d: d["promoted"] | (d["champion"] == d["baseline"]), name="baseline_unless_promoted",
                 error="without promotion the champion must be the best baseline"),
        pa.Check(lambda d: ~d["promoted"] | (d["pvalue_holm"] < d["alpha"]), name="promoted_only_on_evidence",
                 error="a challenger may be promoted only with a Holm-adjusted p-value below alpha"),
    ],
    name="champion_model",
)

FORECASTS_SCHEMA = pa.DataFrameSchema(
    {
        "sector": SECTOR_COLUMN,
        "quarter": _QUARTER,
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=False),
        "lower80": _NONNEG, "upper80": _NONNEG, "lower95": _NONNEG, "upper95": _NONNEG,
        **{f"score_{c}": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True)
           for c in ("prediction", "lower80", "upper80", "lower95", "upper95")},
        "model": pa.Column(str, nullable=False),
        "data_source": pa.Column(str, nullable=False),
    },
    checks=[
        pa.Check(_nested, name="nested_intervals", error="need lower95 <= lower80 <= prediction <= upper80 <= upper95"),
        pa.Check(lambda d: _nested(d, "score_"), name="nested_score_intervals",
                 error="score intervals must nest around the score forecast"),
    ],
    unique=["sector", "quarter"],
    name="forecasts",
)
