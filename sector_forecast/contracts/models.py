"""Pandera contracts for the evaluation edges: leaderboard, promotion gate and forecasts.

Intervals are checked as intervals (lower <= point <= upper, 80% inside 95%) and never clipped: a count's
lower bound is 0 by support, a score's bounds lie in (0, 1) by definition.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from sector_forecast.contracts.inputs import QUARTER_REGEX, SECTOR_COLUMN, described
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
        "model": pa.Column(str, nullable=False, description="model family (naive, seasonal_naive, glm, xgboost)"),
        "target": pa.Column(str, pa.Check.isin(["bankruptcies", "score"]), nullable=False,
                            description="what is graded: next quarter's bankruptcies, or the derived score"),
        "n": pa.Column("int64", pa.Check.gt(0), nullable=False, description="graded forecasts (sector × origin)"),
        "mae": described(_NONNEG, "mean absolute error"),
        "mase": described(_NONNEG, "MAE scaled by the sector's seasonal-naive MAE known at the origin (< 1 beats it)"),
        "coverage80": described(_SHARE, "share of outcomes inside the 80% interval (nominal 0.80)"),
        "coverage95": described(_SHARE, "share of outcomes inside the 95% interval (nominal 0.95)"),
        "interval_score": described(_NONNEG, "Winkler score of the 80% interval / the MASE scale (lower is better)"),
    },
    unique=["model", "target"],
    name="backtest_leaderboard",
)

GATE_SCHEMA = pa.DataFrameSchema(
    {
        "champion": pa.Column(str, nullable=False, description="the model registered as sector-vitality@champion"),
        "baseline": pa.Column(str, pa.Check.isin(list(BASELINES)), nullable=False,
                              description="the best baseline by MASE, the one a challenger must beat"),
        "pvalue": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True,
                            description="one-sided Diebold–Mariano (HLN) p-value, best challenger vs best baseline"),
        "pvalue_holm": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True,
                                 description="that p-value, Holm-adjusted for the number of challengers tested"),
        "promoted": pa.Column(bool, nullable=False,
                              description="the challenger beat the best baseline at Holm-adjusted p < 0.10"),
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
        "quarter": described(_QUARTER, "the quarter forecast"),
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=False,
                                description="expected bankruptcies in the sector that quarter"),
        **{f"{side}{level}": described(_NONNEG, f"{side} bound of the {level}% bankruptcy interval")
           for level in (80, 95) for side in ("lower", "upper")},
        **{f"score_{c}": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True, description=text)
           for c, text in (("prediction", "the derived Sector Vitality Score (median of the simulation)"),
                           *((f"{side}{level}", f"{side} bound of the score's {level}% interval")
                             for level in (80, 95) for side in ("lower", "upper")))},
        "model": pa.Column(str, nullable=False, description="the champion's model family"),
        "data_source": pa.Column(str, nullable=False, description="DST's API, or the snapshot and its synthetic share"),
    },
    checks=[
        pa.Check(_nested, name="nested_intervals", error="need lower95 <= lower80 <= prediction <= upper80 <= upper95"),
        pa.Check(lambda d: _nested(d, "score_"), name="nested_score_intervals",
                 error="score intervals must nest around the score forecast"),
    ],
    unique=["sector", "quarter"],
    name="forecasts",
)
