"""Pandera contracts for the model edges: each fit's predictions, leaderboard, promotion gate and forecasts.

Intervals are checked as intervals (lower <= point <= upper, 80% inside 95%) and never clipped: a count's
lower bound is 0 by support, a score's bounds lie in (0, 1) by definition.
"""

from __future__ import annotations

import pandera.pandas as pa

from sector_forecast.contracts.columns import (
    QUARTER_COLUMN,
    SECTOR_COLUMN,
    described,
    is_horizon_ahead,
    nested_intervals,
)
from sector_forecast.domain.features import HORIZONS
from sector_forecast.domain.forecasters import BASELINES

_SHARE = pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True)
_NONNEG = pa.Column("float64", pa.Check.ge(0), nullable=True)


def _note(description: str) -> pa.Column:
    """A column the contract describes for the UI's column schema and does not check (any type, may be absent)."""
    return pa.Column(None, nullable=True, required=False, description=description)


PREDICTIONS_SCHEMA = pa.DataFrameSchema(
    {
        "model": pa.Column(str, nullable=False, description="a baseline or a challenger (domain.forecasters.MODELS)"),
        "sector": SECTOR_COLUMN,
        "origin": described(QUARTER_COLUMN, "forecast origin: the quarter the model was fitted at"),
        "target_quarter": described(QUARTER_COLUMN, "the quarter forecast: origin + horizon"),
        "horizon": pa.Column("int64", pa.Check.isin(list(HORIZONS)), nullable=False, required=False,
                             description="quarters ahead of the origin (1–4; absent: one-step frames, horizon 1)"),
        # NaN: the model could not forecast this sector at this origin (a baseline's input unknown): reported,
        # never filled in.
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=True,
                                description="forecast mean of the target quarter's bankruptcies (NaN: no forecast)"),
        "actual": described(_NONNEG, "published bankruptcies of the target quarter (NaN while unpublished)"),
        "current": described(_NONNEG, "bankruptcies of the origin quarter"),
        "scale": pa.Column("float64", pa.Check.gt(0), nullable=False,
                           description="MASE scale: in-sample seasonal-naive MAE known at the origin"),
    },
    checks=[
        pa.Check(lambda d: is_horizon_ahead(d, "origin", "target_quarter"), name="target_is_origin_plus_horizon",
                 error="target_quarter must be origin + horizon (origin + 1 without a horizon column)"),
    ],
    unique=["model", "sector", "origin", "horizon"],
    name="predictions",
)

LEADERBOARD_SCHEMA = pa.DataFrameSchema(
    {
        "model": pa.Column(str, nullable=False, description="model (a baseline or a challenger)"),
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
        "quarter": described(QUARTER_COLUMN, "the quarter forecast"),
        "prediction": pa.Column("float64", pa.Check.ge(0), nullable=False,
                                description="expected bankruptcies in the sector that quarter"),
        **{f"{side}{level}": described(_NONNEG, f"{side} bound of the {level}% bankruptcy interval")
           for level in (80, 95) for side in ("lower", "upper")},
        **{f"score_{c}": pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=True, description=text)
           for c, text in (("prediction", "the derived Sector Vitality Score (median of the simulation)"),
                           *((f"{side}{level}", f"{side} bound of the score's {level}% interval")
                             for level in (80, 95) for side in ("lower", "upper")))},
        "model": pa.Column(str, nullable=False, description="the champion model"),
        "data_source": pa.Column(str, nullable=False, description="DST's API, or the snapshot and its synthetic share"),
        "sector_name": _note("the DB07 sector's name, beside its code"),
        "horizon": _note("quarters after the origin (1–4): quarter = model_origin + horizon"),
        "model_origin": _note("the origin: the newest quarter with data, the one the forecast was made at"),
        "why": _note("what moved this forecast since the previous origin's, largest inputs first "
                     "(domain.explain; a baseline's line names its rule)"),
        "births_basis": _note("the score's births of the quarter's year: published, nowcast or unavailable "
                              "(empty where no score is simulated)"),
        "births_nowcast": _note("births in the quarter (a quarter of the year's births) as known at the origin: "
                                "published, or a nowcast from earlier years"),
        "births_log_sd": _note("log-scale standard deviation of births_nowcast (0 when published)"),
        "model_version": _note("version of the registered model sector-vitality that served these forecasts"),
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
