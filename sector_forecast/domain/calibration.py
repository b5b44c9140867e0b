"""Prediction intervals for next-quarter bankruptcy counts, calibrated per sector in real time.

Why conformal: the count models give a mean μ, not a trustworthy distribution (counts are overdispersed and
the dispersion differs by sector), so the interval half-width is taken from the models' own graded errors.
Errors are Pearson-type residuals r = (y − μ)/sqrt(μ + 1): dividing by a Poisson-like sd makes residuals
of a sector with 5 and one with 300 bankruptcies comparable, so they can be pooled when a sector has too
few of its own; the +1 keeps μ ≈ 0 finite (a sector forecast at zero still has an interval).

Why sequential (online) Mondrian: a backtest origin may only use residuals that were graded before its
forecast was made (target quarter <= origin); using later ones would make the early intervals look
calibrated with knowledge nobody had. Mondrian (per sector) because coverage must hold per sector, not
only on average over sectors. Fallback chain when a sector has too few residuals for a coverage:
all sectors of the model pooled → the fit's in-window validation residuals → no interval (upper = +inf).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

COVERAGES: tuple[float, ...] = (0.8, 0.95)
CALIBRATION_SOURCES: tuple[str, ...] = ("sector", "pooled", "validation", "none")
_EPS = 1e-9  # (n+1)·c is computed in floating point: 20·0.95 must give rank 19, not 20
_EMPTY = np.empty(0, dtype="float64")


def _check_coverage(coverage: float) -> None:
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")


def _label(coverage: float) -> str:
    """Column suffix of a coverage: 0.8 → '80'."""
    return f"{round(coverage * 100):d}"


def _rank(n: int, coverage: float) -> int:
    return math.ceil((n + 1) * coverage - _EPS)


def min_calibration_size(coverage: float) -> int:
    """Fewest residuals with a finite split-conformal quantile: ceil(c/(1−c)) (4 for 80 %, 19 for 95 %)."""
    _check_coverage(coverage)
    return math.ceil(coverage / (1 - coverage) - _EPS)


def pearson_residual(actual: np.ndarray | pd.Series | float, mu: np.ndarray | pd.Series | float) -> np.ndarray:
    """(y − μ)/sqrt(μ + 1): a Poisson-scaled error; the +1 keeps μ ≈ 0 finite. NaN where y or μ is NaN."""
    y = np.asarray(actual, dtype="float64")
    m = np.asarray(mu, dtype="float64")
    if np.any(m < 0):
        raise ValueError("pearson_residual: predicted means must be >= 0")
    return (y - m) / np.sqrt(m + 1.0)


def interval_bounds(
    mu: np.ndarray | pd.Series | float, q: np.ndarray | pd.Series | float
) -> tuple[np.ndarray, np.ndarray]:
    """(max(0, μ − q·sqrt(μ+1)), μ + q·sqrt(μ+1)): a residual quantile q turned back into counts.

    The lower bound is truncated at 0 because a count cannot be negative (0 is the edge of its support);
    ``lower_at_zero`` says where that happened so callers can report how often, never silently.
    q = +inf (no calibration) gives [0, +inf).
    """
    m = np.asarray(mu, dtype="float64")
    if np.any(m < 0):
        raise ValueError("interval_bounds: predicted means must be >= 0")
    half = np.asarray(q, dtype="float64") * np.sqrt(m + 1.0)
    return np.maximum(0.0, m - half), m + half


def lower_at_zero(mu: np.ndarray | pd.Series | float, q: np.ndarray | pd.Series | float) -> np.ndarray:
    """True where the interval's lower bound sits at 0 (μ − q·sqrt(μ+1) <= 0); False where μ is NaN."""
    m = np.asarray(mu, dtype="float64")
    with np.errstate(invalid="ignore"):
        return np.asarray(m - np.asarray(q, dtype="float64") * np.sqrt(m + 1.0) <= 0)


def conformal_quantile(abs_residuals: np.ndarray | pd.Series | list[float], coverage: float) -> float:
    """Split-conformal quantile: the k-th smallest |r|, k = ceil((n+1)·coverage); +inf when k > n.

    +inf is the honest answer with too few residuals: no finite interval has the promised coverage.
    """
    _check_coverage(coverage)
    r = np.abs(np.asarray(abs_residuals, dtype="float64"))
    return _kth(np.sort(r[np.isfinite(r)]), coverage)


def _kth(sorted_abs: np.ndarray, coverage: float) -> float:
    k = _rank(len(sorted_abs), coverage)
    return float(sorted_abs[k - 1]) if k <= len(sorted_abs) else math.inf


def _pick(candidates: list[tuple[str, np.ndarray]], coverage: float) -> tuple[str, np.ndarray]:
    """First (source, residuals) of the fallback chain with enough residuals for ``coverage``."""
    need = min_calibration_size(coverage)
    for source, res in candidates:
        if len(res) >= need:
            return source, res
    return "none", _EMPTY


def winkler_score(
    lower: np.ndarray | pd.Series | float,
    upper: np.ndarray | pd.Series | float,
    actual: np.ndarray | pd.Series | float,
    coverage: float,
) -> np.ndarray:
    """Interval score (Gneiting & Raftery 2007, eq. 43): width + (2/α)·distance outside, α = 1 − coverage.

    (u − l) + (2/α)(l − y)·1[y < l] + (2/α)(y − u)·1[y > u]: lower is better; it rewards narrow intervals
    but penalises misses in proportion to how far the actual falls outside.
    """
    _check_coverage(coverage)
    lo, hi, y = (np.asarray(v, dtype="float64") for v in (lower, upper, actual))
    alpha = 1.0 - coverage
    below = np.where(y < lo, lo - y, 0.0)
    above = np.where(y > hi, y - hi, 0.0)
    return (hi - lo) + (2.0 / alpha) * (below + above)


def _graded(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    """Rows of ``model`` with a known actual, with their signed Pearson residual."""
    rows = predictions[(predictions["model"] == model) & predictions["actual"].notna()
                       & predictions["prediction"].notna()]
    residual = pearson_residual(rows["actual"].to_numpy(float), rows["prediction"].to_numpy(float))
    return pd.DataFrame({
        "sector": rows["sector"].to_numpy(int), "target_quarter": rows["target_quarter"].astype(str).to_numpy(),
        "residual": residual,
    })


def validation_pools(validation: pd.DataFrame | None) -> dict[tuple[str, str], np.ndarray]:
    """Finite signed validation residuals per (model, origin), pooled over sectors in row order.

    Split once: masking the whole frame per (model, origin) — object-dtype string comparisons, hundreds of
    pairs per backtest — was most of the calibration's time.
    """
    if validation is None or validation.empty:
        return {}
    keys = [validation["model"].astype(str).to_numpy(), validation["origin"].astype(str).to_numpy()]
    res = validation["residual"].to_numpy(float)
    groups = pd.Series(np.arange(len(res))).groupby(keys, sort=False).indices
    return {key: r[np.isfinite(r)] for key, r in ((k, res[np.sort(i)]) for k, i in groups.items())}


def _hierarchy(
    sector: np.ndarray, residual: np.ndarray, sectors: list[int], fallback: np.ndarray, coverage: float
) -> dict[int, tuple[str, np.ndarray]]:
    """Per sector: (source, signed residuals) by the chain sector → pooled → validation → none.

    ``sector``/``residual``: the graded rows' sector and signed residual, in row order (the simulation
    resamples by position).
    """
    return {s: _pick([("sector", residual[sector == s]), ("pooled", residual), ("validation", fallback)], coverage)
            for s in sectors}


def calibrate_backtest(predictions: pd.DataFrame, validation: pd.DataFrame | None = None) -> pd.DataFrame:
    """``predictions`` plus lower/upper/calibration columns per coverage, by sequential Mondrian conformal.

    Row (model m, sector s, origin o) is calibrated with m's residuals whose target_quarter <= o (graded
    before the forecast; never the row itself or a later quarter), sector s's own when there are enough,
    else pooled, else ``validation`` residuals of (m, o), else none (interval [0, +inf)). Adds
    ``lower{80,95}``, ``upper{80,95}``, ``calibration{80,95}`` and ``lower{80,95}_at_zero``.
    """
    out = predictions.copy()
    n = len(out)
    mu = out["prediction"].to_numpy(dtype="float64")
    origin = out["origin"].astype(str).to_numpy()
    sector = out["sector"].to_numpy(dtype="int64")
    model = out["model"].astype(str).to_numpy()
    q = {c: np.full(n, math.inf) for c in COVERAGES}
    src = {c: np.full(n, "none", dtype=object) for c in COVERAGES}
    pools = validation_pools(validation)
    for m in np.unique(model):
        rows_m = np.flatnonzero(model == m)
        graded = _graded(out, m)
        target = graded["target_quarter"].to_numpy()
        abs_res = np.abs(graded["residual"].to_numpy())
        g_sector = graded["sector"].to_numpy()
        for o in np.unique(origin[rows_m]):
            rows = rows_m[origin[rows_m] == o]
            known = target <= o
            pooled = np.sort(abs_res[known])
            fallback = np.sort(np.abs(pools.get((m, o), _EMPTY)))
            for s in np.unique(sector[rows]):
                own = np.sort(abs_res[known & (g_sector == s)])
                idx = rows[sector[rows] == s]
                for c in COVERAGES:
                    source, res = _pick([("sector", own), ("pooled", pooled), ("validation", fallback)], c)
                    q[c][idx] = _kth(res, c) if source != "none" else math.inf
                    src[c][idx] = source
    _nest(q)
    for c in COVERAGES:
        lab = _label(c)
        out[f"lower{lab}"], out[f"upper{lab}"] = interval_bounds(mu, q[c])
        out[f"calibration{lab}"] = src[c]
        out[f"lower{lab}_at_zero"] = lower_at_zero(mu, q[c])
    return out


def calibrate_horizons(predictions: pd.DataFrame, validation: pd.DataFrame | None = None) -> pd.DataFrame:
    """``calibrate_backtest`` per forecast horizon (Mondrian by sector *and* horizon), rows in input order.

    A horizon-h row is calibrated only with residuals at horizon h (an h-step error is wider than a one-step
    one) whose target quarter <= its origin: an h-step error becomes known h quarters after its origin, which
    the target <= origin rule already enforces. ``validation`` rows are matched on their ``horizon`` too.
    Without a ``horizon`` column this is ``calibrate_backtest``.
    """
    if "horizon" not in predictions.columns:
        return calibrate_backtest(predictions, validation)
    parts = []
    for h, rows in predictions.groupby("horizon", sort=True):
        val = validation
        if validation is not None and "horizon" in validation.columns:
            val = validation[validation["horizon"] == h]
        parts.append(calibrate_backtest(rows, val))
    return pd.concat(parts).loc[predictions.index]


def _nest(q: dict) -> None:
    """Make the wider coverage's quantile at least the narrower's, in place.

    Each coverage picks its residual pool on its own size rule, so early on the 80% may rest on pooled
    residuals and the 95% on a smaller validation set with a smaller quantile: a 95% interval inside the
    80% one would be incoherent, so it is widened to contain it (never the 80% narrowed).
    """
    previous = None
    for c in sorted(q):
        if previous is not None:
            q[c] = np.maximum(q[c], q[previous])
        previous = c


def _sectors(predictions: pd.DataFrame, model: str) -> list[int]:
    return sorted(int(s) for s in predictions.loc[predictions["model"] == model, "sector"].unique())


def live_quantiles(
    predictions: pd.DataFrame, model: str, validation: pd.DataFrame | None = None
) -> tuple[dict[int, dict[float, float]], dict[int, dict[float, str]]]:
    """(quantiles, sources) per sector and coverage for a live forecast, from every graded residual.

    Same chain as ``calibrate_backtest``; the validation fallback uses the model's latest origin. Turn a
    quantile into bounds with ``interval_bounds(mu, q)``.
    """
    graded = _graded(predictions, model)
    pools = validation_pools(validation)  # the fallback is the model's latest origin's validation residuals
    fallback = pools.get((model, max((o for m, o in pools if m == model), default=None)), _EMPTY)
    quantiles: dict[int, dict[float, float]] = {}
    sources: dict[int, dict[float, str]] = {}
    for c in COVERAGES:
        chain = _hierarchy(graded["sector"].to_numpy(), graded["residual"].to_numpy(float),
                           _sectors(predictions, model), fallback, c)
        for s, (source, res) in chain.items():
            quantiles.setdefault(s, {})[c] = _kth(np.sort(np.abs(res)), c) if source != "none" else math.inf
            sources.setdefault(s, {})[c] = source
    for per_sector in quantiles.values():
        _nest(per_sector)
    return quantiles, sources


def residual_pool(
    predictions: pd.DataFrame,
    model: str,
    origin: str,
    validation: pd.DataFrame | None = None,
    coverage: float = max(COVERAGES),
) -> dict[int, np.ndarray]:
    """Signed residuals per sector known at ``origin`` (target_quarter <= origin), for simulation.

    Same chain as the intervals, with the size rule of ``coverage`` (default 95 %, the widest interval the
    simulation reports, so its tails rest on enough residuals). A sector with nothing gets an empty array.
    """
    return residual_pools(predictions, validation, coverage)(model, origin)


def residual_pools(
    predictions: pd.DataFrame, validation: pd.DataFrame | None = None, coverage: float = max(COVERAGES)
) -> Callable[[str, str], dict[int, np.ndarray]]:
    """``residual_pool`` as a function of (model, origin): each model graded once, ``validation`` split once.

    The score backtest asks for a pool per (model, origin); regrading and re-masking the whole frames per pair
    cost more than its simulation. Arrays keep row order (the simulation resamples by position).
    """
    pools, models = validation_pools(validation), {}

    def at(model: str, origin: str) -> dict[int, np.ndarray]:
        if model not in models:
            g = _graded(predictions, model)
            models[model] = (g["sector"].to_numpy(), g["target_quarter"].to_numpy(), g["residual"].to_numpy(float),
                             _sectors(predictions, model))
        sector, target, residual, sectors = models[model]
        known = target <= origin
        chain = _hierarchy(sector[known], residual[known], sectors, pools.get((model, origin), _EMPTY), coverage)
        return {s: res.copy() for s, (_, res) in chain.items()}

    return at
