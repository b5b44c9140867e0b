"""A fit runs on one BLAS/OpenMP thread, also once the model's thread pools are found once and reused.

`tuning.fit_estimator` finds the loaded thread pools once per model and process (`_thread_pools`) instead of on
every fit; the limit must still hold inside every fit and be lifted after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import sklearn.linear_model  # noqa: F401 — loads the thread pools (BLAS, OpenMP) a real estimator's fit uses
from threadpoolctl import threadpool_info, threadpool_limits

from sector_forecast.domain.features import TARGET_COLUMN
from sector_forecast.domain.forecasters import ModelSpec
from sector_forecast.domain.tuning import cross_validate, fit_estimator


class ThreadRecorder:
    """An estimator that records the loaded thread pools' sizes while it is fitted."""

    seen: list[list[int]] = []

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> ThreadRecorder:
        ThreadRecorder.seen.append([pool["num_threads"] for pool in threadpool_info()])
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.ones(len(x))


def _build(params: dict[str, Any], seed: int) -> ThreadRecorder:
    return ThreadRecorder()


SPEC = ModelSpec("thread_recorder", "records thread pools", "challenger", "regression",
                 grid=[{"a": 1}, {"a": 2}], build=_build, design=lambda frame: frame[["x"]])


def _rows() -> pd.DataFrame:
    quarters = [f"{y}Q{q}" for y in (2020, 2021, 2022) for q in (1, 2, 3, 4)]
    return pd.DataFrame({"quarter": quarters, "sector": 1, "x": np.arange(12.0), TARGET_COLUMN: 5.0})


def test_every_fit_runs_on_one_thread_and_the_limit_is_lifted_after_it() -> None:
    ThreadRecorder.seen.clear()
    rows = _rows()
    with threadpool_limits(limits=2):  # a known starting point on any machine, one CPU or many
        before = [pool["num_threads"] for pool in threadpool_info()]
        fit_estimator(SPEC, {"a": 1}, rows, seed=0)
        # Cross-validation: 2 grid points x 2 blocks, each a fit on the design it builds once.
        cross_validate(SPEC, rows, {1: 1.0}, seed=0, grid=SPEC.grid)
        fit_estimator(SPEC, {"a": 2}, rows, seed=0)
        after = [pool["num_threads"] for pool in threadpool_info()]
    assert before and set(before) == {2}, before  # there are pools to limit, or the test proves nothing
    assert len(ThreadRecorder.seen) == 1 + 4 + 1
    assert all(set(seen) == {1} and len(seen) == len(before) for seen in ThreadRecorder.seen), ThreadRecorder.seen
    assert after == before
