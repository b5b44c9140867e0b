"""The three tests the drift monitors are built from, each exact or conservative at its stated level."""

from __future__ import annotations

import math

import numpy as np


def benjamini_hochberg(pvalues: np.ndarray | list[float], level: float) -> np.ndarray:
    """Rejections of the BH step-up procedure at FDR ``level``; NaN p-values are not tested (never rejected)."""
    p = np.asarray(pvalues, dtype="float64")
    tested = np.flatnonzero(np.isfinite(p))
    rejected = np.zeros(len(p), dtype=bool)
    if len(tested) == 0:
        return rejected
    order = tested[np.argsort(p[tested], kind="stable")]
    below = p[order] <= level * np.arange(1, len(order) + 1) / len(order)
    if below.any():
        rejected[order[: np.flatnonzero(below).max() + 1]] = True
    return rejected


def prediction_interval_test(history: np.ndarray, value: float) -> tuple[float, float]:
    """(t, two-sided p) of ``value`` as a new draw from the normal sample ``history`` (NaNs dropped)."""
    # The t distribution's tail from scipy.special: what scipy.stats.t.sf computes (stdtr(df, -t)), without
    # importing scipy.stats (~1.5 s), which a drift_report run would otherwise pay for this one call.
    from scipy.special import stdtr

    h = np.asarray(history, dtype="float64")
    h = h[np.isfinite(h)]
    if len(h) < 2 or not math.isfinite(value):
        return math.nan, math.nan
    sd, mean = float(h.std(ddof=1)), float(h.mean())
    diff = value - mean
    tol = 1e-12 * max(1.0, abs(mean))  # a constant history computed in floating point is still constant
    if sd <= tol:
        return (0.0, 1.0) if abs(diff) <= tol else (math.copysign(math.inf, diff), 0.0)
    t = diff / (sd * math.sqrt(1 + 1 / len(h)))
    return t, float(2 * stdtr(len(h) - 1, -abs(t)))


def conformal_pvalue(reference: np.ndarray | list[float], value: float) -> float:
    """(1 + #{reference >= value}) / (1 + n): the rank p-value of ``value`` among exchangeable draws."""
    ref = np.asarray(reference, dtype="float64")
    ref = ref[np.isfinite(ref)]
    if not math.isfinite(value):
        return math.nan
    return float((1 + np.sum(ref >= value)) / (1 + len(ref)))


def min_reference(level: float) -> int:
    """Earlier quarters a rank p-value needs before it can reach ``level``: ceil(1/level) − 1 (19 at 0.05)."""
    return math.ceil(1 / level - 1e-9) - 1
