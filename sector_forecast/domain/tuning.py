"""Nested tuning of a count model inside its training window: rolling-origin cross-validation.

Tuning sees only the window the domain gives a fit (``forecasters.training_window``), so a fit is the same
however a run is batched (issue 19): the window's last ``CV_FOLDS`` x ``CV_FOLD_QUARTERS`` quarters, in
time-ordered blocks, each predicted by a fit on every quarter before it (all sectors; never a random split),
scored by the scale-free MAE (|error| / the sector's MASE scale, so a large sector cannot decide alone).
``forecasters.fit_model`` refits the winner on the whole window and keeps the winner's CV residuals.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sector_forecast.domain import baselines
from sector_forecast.domain.features import TARGET_COLUMN
from sector_forecast.domain.periods import quarter_offset

if TYPE_CHECKING:  # the catalogue's type only: forecasters imports this module
    from sector_forecast.domain.forecasters import ModelSpec

CV_FOLDS = 2
CV_FOLD_QUARTERS = 4  # 2 x 4 = 8 quarters of rolling cross-validation inside the window


def fit_estimator(
    spec: ModelSpec, params: dict[str, Any], rows: pd.DataFrame, seed: int, design: pd.DataFrame | None = None
) -> Any:
    """``spec``'s estimator with ``params`` fitted on ``rows`` (their design, unless given, and target)."""
    estimator = spec.build(params, seed)  # imports the model's libraries
    x = spec.design(rows) if design is None else design
    # One BLAS/OpenMP thread: on ~500 x 30 matrices threads cost more than they give (10x slower on 2 busy cores).
    with _thread_pools(spec.name).limit(limits=1):
        estimator.fit(x, rows[TARGET_COLUMN].to_numpy(dtype="float64"))
    return estimator


@functools.cache
def _thread_pools(model: str) -> Any:
    """The thread pools loaded once ``model``'s first estimator is built, found once per process and model.

    ``threadpool_limits(1)`` would search the loaded libraries again on every fit, ~3 ms each: a fifth to a third
    of a tuned model's fits (the fits line of ``benchmarks/speed.py --direct``). The libraries are the same after
    the model's first build: its imports load them, and a fit loads none.
    """
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def cv_blocks(quarters: list[str]) -> list[list[str]]:
    """The window's last CV_FOLDS blocks of CV_FOLD_QUARTERS quarters (fewer in a short window), oldest first."""
    n = min(CV_FOLDS * CV_FOLD_QUARTERS, max(1, len(quarters) // 2))
    tail = quarters[-n:]
    return [tail[i:i + CV_FOLD_QUARTERS] for i in range(0, n, CV_FOLD_QUARTERS)]


def cross_validate(
    spec: ModelSpec, rows: pd.DataFrame, scales: dict[int, float], seed: int, grid: list[dict[str, Any]],
    horizon: int = 1, design: pd.DataFrame | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any], pd.DataFrame, list[str]]:
    """Rolling-origin CV of every grid point: (tuning table, best entry, its CV rows with predictions, CV quarters).

    A block starting at quarter b is predicted by a fit on rows whose target was known at b: quarters <= b-horizon.
    ``design``: ``spec.design(rows)`` when the caller has built it (``fit_model`` refits on it whole).
    """
    blocks = cv_blocks(sorted(rows["quarter"].unique()))
    # The design is row-wise, so it is built once and sliced (it was a sixth of a GLM's tuning, built per fit).
    if design is None and spec.kind != "rule":
        design = spec.design(rows)
    tuning, best = [], None
    for params in grid:
        preds = []
        for block in blocks:
            known = rows["quarter"] <= quarter_offset(block[0], -horizon)
            validated = rows["quarter"].isin(block)
            fit_part, val_part = rows[known], rows[validated]
            if design is None:
                pred, _ = baselines.rule_forecast(spec.name, val_part)
            else:
                pred = fit_estimator(spec, params, fit_part, seed, design[known]).predict(design[validated])
            preds.append(val_part.assign(prediction=np.asarray(pred, dtype="float64")))
        cv = pd.concat(preds, ignore_index=True)
        scaled = (cv[TARGET_COLUMN] - cv["prediction"]).abs() / cv["sector"].map(scales)
        tuning.append({"params": dict(params), "validation_mae": float(scaled.mean())})
        if best is None or tuning[-1]["validation_mae"] < best[0]["validation_mae"]:  # ties keep the earlier
            best = (tuning[-1], cv)
    return tuning, best[0], best[1], [q for b in blocks for q in b]
