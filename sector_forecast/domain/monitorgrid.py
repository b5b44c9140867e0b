"""Detection on a grid of shifts: every sector (and all at once) × factor × the month a quarter's shift starts.

A scenario multiplies a panel's counts of the shifted sector(s) by ``factor`` from month ``position`` (1, 2
or 3) of quarter q on: quarter q gets 1 + (factor − 1)·(4 − position)/3 of its count (the months of a
quarter taken as equal, since the monitors see quarters), every later quarter ``factor`` times it, rounded
to a count. It is **detected** when, in q or q + 1 (within two quarters), an alarm names what was shifted:

- data drift: the shifted sector's hypothesis is rejected (for an all-sector shift: the common level's, its
  own monitor; the grid's ``data_drift`` column holds either);
- performance: the monitor alarms and its statistic is the shifted sector's (any sector when all shifted).

Forecasts. The forecast judged in q was made at q − 1, before the shift: it is the panel's own. The one for
q + 1 was made after the forecaster saw the shifted quarter q; it is taken as the unshifted forecast times
q's shift (the forecaster fully adapts in one quarter) — the least favourable assumption for the monitor,
since any real forecaster adapts by at most that much, so the performance figures are lower bounds.

All scenarios of a grid are evaluated in a few vectorised passes (``monitorvec.py``), in chunks to bound
memory; only quarters q and q + 1 of each scenario are read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sector_forecast.domain import monitorvec as mv
from sector_forecast.domain.hypothesis import min_reference

FACTORS: tuple[float, ...] = (1.5, 2.0, 3.0)
POSITIONS: tuple[int, ...] = (1, 2, 3)
ALL = -1  # the ``sector`` of an all-sector shift
GRID_COLUMNS = ["panel", "start", "sector", "factor", "position", "data_drift", "performance", "detected", "delay"]
_CHUNK = 1500
_EMPTY = pd.DataFrame({"panel": pd.Series(dtype="int64"), "start": pd.Series(dtype="int64"),
                       "sector": pd.Series(dtype="int64"), "factor": pd.Series(dtype="float64"),
                       "position": pd.Series(dtype="int64"), "data_drift": pd.Series(dtype=bool),
                       "performance": pd.Series(dtype=bool), "detected": pd.Series(dtype=bool),
                       "delay": pd.Series(dtype="Int64")})


def scenarios(panels: int, starts: Sequence[int], sectors: int) -> pd.DataFrame:
    """Every (panel, start quarter index, sector or ``ALL``, factor, position) of the grid."""
    index = pd.MultiIndex.from_product([range(panels), list(starts), [*range(sectors), ALL], FACTORS, POSITIONS],
                                       names=["panel", "start", "sector", "factor", "position"])
    return index.to_frame(index=False)


def _shifted(counts: np.ndarray, mu: np.ndarray, grid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Counts and forecasts of each scenario, ``(N, T, S)``."""
    T, S = counts.shape[1:]
    t = np.arange(T)[None, :]
    start = grid["start"].to_numpy()[:, None]
    first = 1 + (grid["factor"].to_numpy() - 1) * (4 - grid["position"].to_numpy()) / 3
    factor = np.where(t > start, grid["factor"].to_numpy()[:, None], np.where(t == start, first[:, None], 1.0))
    sector = grid["sector"].to_numpy()
    hit = (sector[:, None] == np.arange(S)[None, :]) | (sector[:, None] == ALL)  # (N, S)
    mult = np.where(hit[:, None, :], factor[:, :, None], 1.0)
    adapt = np.where(hit[:, None, :] & (t > start)[:, :, None], first[:, None, None], 1.0)
    panel = grid["panel"].to_numpy()
    return np.round(counts[panel] * mult), mu[panel] * adapt


def _at(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """a[n, idx[n], ...] for every scenario n."""
    return a[np.arange(len(idx)), idx]


def _evaluate(counts: np.ndarray, mu: np.ndarray, grid: pd.DataFrame, levels: tuple[float, float],
              history: int, min_history: int, min_residuals: int) -> pd.DataFrame:
    y, m = _shifted(counts, mu, grid)
    rejected, _ = mv.data_drift_rejections(y, levels[0], history, min_history)
    stat, sector_of = mv.performance_statistics(y, m, min_residuals)
    target = grid["sector"].to_numpy()
    hyp = np.where(target == ALL, y.shape[-1], target)
    finite = np.isfinite(stat)
    hits = []
    for lag in (0, 1):
        q = grid["start"].to_numpy() + lag
        data = _at(rejected, q)[np.arange(len(q)), hyp]
        s = _at(stat, q)
        earlier = (np.arange(stat.shape[1])[None, :] < q[:, None]) & finite
        n = earlier.sum(axis=1)
        p = (1 + (earlier & (stat >= s[:, None])).sum(axis=1)) / (1 + n)
        alarm = np.isfinite(s) & (n >= min_reference(levels[1])) & (p <= levels[1])
        perf = alarm & ((_at(sector_of, q) == target) | (target == ALL))
        hits.append((data, perf))
    out = grid.copy()
    out["data_drift"] = hits[0][0] | hits[1][0]
    out["performance"] = hits[0][1] | hits[1][1]
    out["detected"] = out["data_drift"] | out["performance"]
    first = hits[0][0] | hits[0][1]
    out["delay"] = pd.Series(np.where(first, 0.0, 1.0)).where(out["detected"]).astype("Int64")
    return out


def detection_grid(counts: np.ndarray, mu: np.ndarray, starts: Sequence[int], levels: tuple[float, float],
                   history: int, min_history: int, min_residuals: int) -> pd.DataFrame:
    """Every scenario of the grid on each panel of ``counts``/``mu`` ``(P, T, S)``, one row each (``GRID_COLUMNS``).

    ``starts``: indices of the quarters a shift may start in; q + 1 must exist (``start < T − 1``).
    """
    counts, mu = np.asarray(counts, dtype="float64"), np.asarray(mu, dtype="float64")
    if counts.ndim == 2:
        counts, mu = counts[None], mu[None]
    if not len(starts):  # nothing to shift: an empty grid with the columns' types
        return _EMPTY.copy()
    if max(starts) >= counts.shape[1] - 1:
        raise ValueError(f"detection_grid: a shift starting at quarter index {max(starts)} has no next quarter")
    grid = scenarios(counts.shape[0], starts, counts.shape[2])
    parts = [_evaluate(counts, mu, grid.iloc[i:i + _CHUNK].reset_index(drop=True), levels, history, min_history,
                       min_residuals) for i in range(0, len(grid), _CHUNK)]
    return pd.concat(parts, ignore_index=True)[GRID_COLUMNS]


def detection_shares(grid: pd.DataFrame) -> pd.DataFrame:
    """Share detected within two quarters per shift kind (one sector / all sectors) and factor, per monitor."""
    kind = np.where(grid["sector"] == ALL, "all sectors", "one sector")
    shares = (grid.assign(shift=kind).groupby(["shift", "factor"])[["detected", "data_drift", "performance"]]
              .mean().reset_index())
    counts = grid.assign(shift=kind).groupby(["shift", "factor"]).size().rename("scenarios").reset_index()
    return shares.merge(counts, on=["shift", "factor"])
