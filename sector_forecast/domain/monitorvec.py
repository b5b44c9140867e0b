"""The two monitors of ``drift.py`` over arrays: every quarter of many panels at once.

``drift.data_drift`` and ``drift.performance_degradation`` judge one quarter from DataFrames, which is right
for a report and far too slow for thousands of simulated panels and shifted scenarios. These functions
compute the same statistics for a whole ``(..., quarters, sectors)`` array in a few numpy passes (rolling
sums instead of windows, one sort for Benjamini–Hochberg), so that the out-of-sample figures of
``monitorsim.py`` take seconds. ``sector_forecast_tests/domain/test_monitorsim.py`` checks that they give
the scalar functions' p-values quarter by quarter.

Shapes: ``counts`` and ``mu`` are ``(..., T, S)`` floats (NaN = suppressed / no forecast); the data-drift
hypotheses are the S sectors' relative log counts and, last, the common level (index S, its own monitor).
"""

from __future__ import annotations

import warnings

import numpy as np

from sector_forecast.domain.hypothesis import min_reference


def drift_series(counts: np.ndarray) -> np.ndarray:
    """``(..., T, S+1)``: each sector's log1p count minus the other sectors' median, then the median of all.

    The common level is NaN in a quarter with any suppressed sector, as in ``drift.data_drift``.
    """
    logs = np.log1p(np.asarray(counts, dtype="float64"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN quarters: the median is NaN, as intended
        centre = np.nanmedian(logs, axis=-1)
        own = _median_of_others(logs)
    common = np.where(np.isfinite(logs).all(axis=-1), centre, np.nan)
    return np.concatenate([logs - own, common[..., None]], axis=-1)


def _median_of_others(logs: np.ndarray) -> np.ndarray:
    """Per cell, the median of the other sectors' values that quarter (NaNs skipped).

    Without NaNs from order statistics: leaving out a value of rank r shifts the others' k-th smallest to
    the (k+1)-th of all when r <= k. With NaNs (suppressed counts: rare) by ``nanmedian`` on each leave-one-out.
    """
    S = logs.shape[-1]
    if np.isnan(logs).any():
        others = np.stack([np.delete(logs, s, axis=-1) for s in range(S)], axis=-2)
        return np.nanmedian(others, axis=-1)
    ordered = np.sort(logs, axis=-1)
    rank = np.argsort(np.argsort(logs, axis=-1, kind="stable"), axis=-1, kind="stable")

    def kth(k: int) -> np.ndarray:  # the others' k-th smallest (0-based), per cell
        return np.where(rank <= k, ordered[..., k + 1:k + 2], ordered[..., k:k + 1])

    m = S - 1
    return kth(m // 2) if m % 2 else (kth(m // 2 - 1) + kth(m // 2)) / 2


def _rolling(x: np.ndarray, history: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per quarter t: (n, sum, sum of squares) of the finite values among the ``history`` quarters before t."""
    finite = np.isfinite(x)
    v = np.where(finite, x, 0.0)
    pad = [(0, 0)] * (x.ndim - 2) + [(1, 0), (0, 0)]
    sums = [np.pad(np.cumsum(a, axis=-2), pad) for a in (finite.astype("float64"), v, v * v)]
    out = []
    for c in sums:  # c[t] = total over quarters < t; the window is [t - history, t)
        lagged = np.concatenate([np.zeros_like(c[..., :history, :]), c[..., :-history, :]], axis=-2)
        out.append((c - lagged)[..., :-1, :])
    return out[0], out[1], out[2]


def window_pvalues(series: np.ndarray, history: int, min_history: int) -> np.ndarray:
    """Two-sided prediction-interval t-test p-values of each quarter against its ``history`` predecessors.

    ``hypothesis.prediction_interval_test`` vectorised: NaN where the quarter is NaN or has fewer than
    ``min_history`` finite predecessors; a constant history gives p = 1 (equal) or 0 (different).
    """
    from scipy.special import stdtr  # the t distribution's CDF without scipy.stats (~1 s to import)

    n, s1, s2 = _rolling(series, history)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        sd = np.sqrt(np.maximum(s2 - s1 * mean, 0.0) / (n - 1))
        diff = series - mean
        tol = 1e-9 * np.maximum(1.0, np.abs(mean))  # rolling sums lose a little precision: a wider tolerance
        t = diff / (sd * np.sqrt(1 + 1 / n))
        p = 2 * stdtr(np.maximum(n - 1, 1), -np.abs(t))
    p = np.where(sd <= tol, np.where(np.abs(diff) <= tol, 1.0, 0.0), p)
    return np.where((n >= min_history) & np.isfinite(series), p, np.nan)


def bh_rejections(p: np.ndarray, level: float) -> np.ndarray:
    """Benjamini–Hochberg along the last axis (NaN = not tested): ``hypothesis.benjamini_hochberg`` batched."""
    tested = np.isfinite(p)
    m = tested.sum(axis=-1, keepdims=True)
    ordered = np.sort(np.where(tested, p, np.inf), axis=-1)
    k = np.arange(1, p.shape[-1] + 1)
    below = ordered <= level * k / np.maximum(m, 1)
    threshold = np.max(np.where(below, ordered, -np.inf), axis=-1, keepdims=True)
    return tested & (p <= threshold)


def data_drift_rejections(counts: np.ndarray, level: float, history: int, min_history: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(rejected ``(..., T, S+1)``, tested ``(..., T, S+1)``) per hypothesis and quarter.

    The S sectors by Benjamini–Hochberg at ``level`` among themselves; the common level (index S) on its own
    at ``level`` too, as in ``drift.data_drift``.
    """
    p = window_pvalues(drift_series(counts), history, min_history)
    common = np.isfinite(p[..., -1:]) & (p[..., -1:] <= level)
    return np.concatenate([bh_rejections(p[..., :-1], level), common], axis=-1), np.isfinite(p)


def performance_statistics(counts: np.ndarray, mu: np.ndarray, min_residuals: int
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(statistic ``(..., T)``, its sector index ``(..., T)``): the largest squared standardised Pearson residual.

    Each residual (y − μ)/sqrt(μ + 1) is divided by its sector's RMS residual over earlier quarters (NaN
    with fewer than ``min_residuals``), as in ``drift.performance_degradation``; sector −1 where NaN.
    """
    r = (np.asarray(counts, dtype="float64") - mu) / np.sqrt(mu + 1.0)
    sq = r * r
    finite = np.isfinite(sq)
    pad = [(0, 0)] * (sq.ndim - 2) + [(1, 0), (0, 0)]
    total = np.pad(np.cumsum(np.where(finite, sq, 0.0), axis=-2), pad)[..., :-1, :]
    count = np.pad(np.cumsum(finite, axis=-2), pad)[..., :-1, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        z2 = np.where(count >= min_residuals, sq / (total / count), np.nan)
    has = np.isfinite(z2).any(axis=-1)
    filled = np.where(np.isfinite(z2), z2, -np.inf)
    return np.where(has, filled.max(axis=-1), np.nan), np.where(has, filled.argmax(axis=-1), -1)


def rank_pvalues(statistic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p, n): each quarter's conformal p-value among the finite statistics of earlier quarters, and n."""
    s = np.asarray(statistic, dtype="float64")
    T = s.shape[-1]
    earlier = np.tril(np.ones((T, T), dtype=bool), k=-1)  # earlier[t, u]: u < t
    finite = np.isfinite(s)
    ref = s[..., None, :]
    n = (earlier & finite[..., None, :]).sum(axis=-1)
    with np.errstate(invalid="ignore"):
        ge = (earlier & finite[..., None, :] & (ref >= s[..., :, None])).sum(axis=-1)
    p = np.where(finite, (1 + ge) / (1 + n), np.nan)
    return p, n


def performance_alarms(counts: np.ndarray, mu: np.ndarray, level: float, min_residuals: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alarm ``(..., T)``, testable ``(..., T)``, sector of the statistic ``(..., T)``) per quarter."""
    stat, sector = performance_statistics(counts, mu, min_residuals)
    p, n = rank_pvalues(stat)
    testable = np.isfinite(stat) & (n >= min_reference(level))
    return testable & (p <= level), testable, sector
