"""The t-distribution tails from scipy.special are bit-identical to the scipy.stats calls they replaced.

`gate.dm_test`, `hypothesis.prediction_interval_test` and the drift figure's band read scipy.special
(`stdtr`, `stdtrit`) so that a monitoring run does not import scipy.stats (~1.5 s; docs/benchmarks.md). The
p-values feed the gate and the drift reports: they must not move by a single bit, so equality here is exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import stdtrit

from sector_forecast.domain.gate import dm_test
from sector_forecast.domain.hypothesis import prediction_interval_test


def test_dm_test_pvalue_is_scipy_stats_t_cdf_exactly() -> None:
    rng = np.random.default_rng(21)
    for length in (2, 3, 5, 12, 58):
        for h in (1, 2, 4):
            a, b = pd.Series(rng.gamma(2.0, size=length)), pd.Series(rng.gamma(2.0, size=length))
            statistic, pvalue = dm_test(a, b, h=h)
            assert pvalue == float(stats.t.cdf(statistic, df=length - 1)), (length, h)


def test_prediction_interval_pvalue_is_scipy_stats_t_sf_exactly() -> None:
    rng = np.random.default_rng(21)
    for length in (2, 3, 8, 20):
        history = rng.normal(10.0, 2.0, size=length)
        for value in (10.0, 12.5, 3.0, 40.0, -1e3):
            t, pvalue = prediction_interval_test(history, value)
            assert pvalue == float(2 * stats.t.sf(abs(t), length - 1)), (length, value)


def test_the_drift_band_quantile_is_scipy_stats_t_ppf_exactly() -> None:
    for n in range(2, 60):
        for q in (1 - 0.05 / 2, 1 - 0.05 / 24, 1 - 0.01 / 24):
            assert stdtrit(n - 1, q) == stats.t.ppf(q, n - 1), (n, q)
