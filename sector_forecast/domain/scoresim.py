"""The score forecast, derived from its components by simulation.

The Vitality Score of the target quarter t = origin+1 depends on t's bankruptcies (forecast: μ plus a
resampled calibrated residual), on births of years DST has not published at the origin (nowcast with a
log-normal error), and on the sector's trailing history (observed bankruptcies of the three quarters before
t and of the window, births published or again nowcast). Simulating all of them jointly and scoring every
draw with the score's own function (``score.series_scores``) gives a score forecast that follows the
published definition exactly and whose interval carries both the count uncertainty and the
births-publication lag — instead of a model fitted to a compressed index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import quarter_offset, quarter_range, quarter_year
from sector_forecast.domain.realtime import births_nowcast
from sector_forecast.domain.score import SCORE_LOOKBACK, series_scores

SIM_COLUMNS: list[str] = [
    "sector", "target_quarter", "score_prediction", "score_lower80", "score_upper80", "score_lower95",
    "score_upper95", "births_basis",
]
_QUANTILES = (0.5, 0.1, 0.9, 0.025, 0.975)


@dataclass(frozen=True)
class OriginInputs:
    """What every model's simulation at one origin shares: its window, births vintage, nowcasts and counts.

    It depends on the origin alone, so a backtest builds it once per origin for all its models
    (``origin_inputs``) instead of re-deriving the nowcasts and each sector's history per model.
    """

    target: str
    window: list[str]
    years: list[int]  # every year the window and the target touch, ascending
    columns: list[int]  # per quarter of [*window, target]: the position of its year in ``years``
    published: dict[int, dict[int, float]]  # sector → {year: published annual births}
    nowcasts: dict[int, dict[int, tuple]]  # year → sector → (nowcast_annual, log_sd, horizon)
    bankruptcies: dict[int, np.ndarray]  # sector → its counts over the window (NaN = not in the panel)


def origin_inputs(origin: str, panel: pd.DataFrame, vintage_as_of_origin: pd.DataFrame) -> OriginInputs:
    """``OriginInputs`` of ``origin`` from the panel (quarters <= origin are read) and the origin's vintage."""
    target = quarter_offset(origin, 1)
    window = quarter_range(quarter_offset(target, -SCORE_LOOKBACK), origin)
    years = sorted({quarter_year(q) for q in window} | {quarter_year(target)})
    hist = panel[panel["quarter"].astype(str).isin(window)]
    vintage = vintage_as_of_origin
    newest = vintage.groupby("sector")["year"].max()
    # Only years some sector has not published are drawn from a nowcast (births_nowcast is the slow part).
    nowcasts = {y: births_nowcast(vintage, y) for y in years if len(newest) and y > newest.min()}
    return OriginInputs(
        target=target, window=window, years=years,
        columns=[years.index(quarter_year(q)) for q in [*window, target]],
        published={int(s): dict(zip(g["year"].tolist(), g["births_annual"].tolist(), strict=True))
                   for s, g in vintage.groupby("sector")},
        nowcasts={y: dict(zip(nc["sector"].tolist(), zip(nc["nowcast_annual"].tolist(), nc["log_sd"].tolist(),
                                                          nc["horizon"].tolist(), strict=True), strict=True))
                  for y, nc in nowcasts.items()},
        bankruptcies=_window_counts(hist, window),
    )


def _window_counts(hist: pd.DataFrame, window: list[str]) -> dict[int, np.ndarray]:
    """Per sector: its bankruptcies on the window's quarters, float, NaN where the panel has none.

    Placed by position (``hist`` holds only window quarters): a Series reindex per sector cost more.
    """
    at = {q: i for i, q in enumerate(window)}
    counts = pd.to_numeric(hist["bankruptcies"], errors="coerce").astype("float64").to_numpy()
    position = np.array([at[q] for q in hist["quarter"].astype(str)], dtype="int64")
    sectors = hist["sector"].to_numpy()
    out: dict[int, np.ndarray] = {}
    for s in pd.unique(sectors):
        rows = sectors == s
        if len(np.unique(position[rows])) < rows.sum():
            raise ValueError(f"simulate_scores: sector {s} has a quarter twice in the panel")
        out[int(s)] = np.full(len(window), np.nan)
        out[int(s)][position[rows]] = counts[rows]
    return out


def _births_draws(
    inputs: OriginInputs, sector: int, n_draws: int, rng: np.random.Generator
) -> tuple[dict[int, np.ndarray], str]:
    """Annual births per year as (n_draws,) arrays, and the basis of the last (target) year.

    Published years are constant; years after the sector's newest published year are drawn as
    nowcast·exp(log_sd·z). The z of successive unpublished years follow one random walk (z_h = W_h/√h),
    so year Y+2 is year Y+1 plus another year's change instead of an independent guess. Years before the
    first published one (DEMO14 starts in 2019) are NaN: those quarters have no balance.
    """
    own = inputs.published.get(sector, {})
    years = inputs.years
    last = max(own) if own else None
    ahead = [y for y in years if last is not None and y > last]
    walk = np.cumsum(rng.standard_normal((n_draws, max(ahead) - last)), axis=1) if ahead else None
    out: dict[int, np.ndarray] = {}
    for y in years:
        if y in own:
            out[y] = np.full(n_draws, float(own[y]))
        elif last is not None and y > last:
            nowcast, log_sd, horizon = inputs.nowcasts[y][sector]
            h = int(horizon)
            out[y] = float(nowcast) * np.exp(float(log_sd) * walk[:, h - 1] / np.sqrt(h))
        else:
            out[y] = np.full(n_draws, np.nan)
    target = years[-1]
    basis = "published" if target in own else ("nowcast" if target in ahead else "unavailable")
    return out, basis


def simulate_scores(
    origin: str,
    mu: dict[int, float],
    residuals: dict[int, np.ndarray],
    panel: pd.DataFrame,
    vintage_as_of_origin: pd.DataFrame,
    n_draws: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Score forecast for t = origin+1 per sector in ``mu``: median and 80 %/95 % simulation intervals.

    Per draw: bankruptcies of t = max(0, μ + sqrt(μ+1)·r*) with r* resampled from the sector's residuals
    (``calibration.residual_pool``); births of every year in t's window and of t's own year from
    ``vintage_as_of_origin`` (``realtime.births_vintage`` at ``realtime.origin_date(origin)``) or its
    nowcast; bankruptcies of the SCORE_LOOKBACK quarters before t from ``panel`` (quarters <= origin). Each
    draw's quarterly series is scored by ``score.series_scores``, the panel's own definition, and t's score is
    kept. A sector without residuals gets the point score (r* = 0) and NaN bounds: no calibrated count
    uncertainty, no interval. Each sector draws from its own stream seeded by (seed, sector), so results do
    not depend on which other sectors are asked.
    """
    return simulate_origin(origin_inputs(origin, panel, vintage_as_of_origin), mu, residuals, n_draws, seed)


def simulate_origin(
    inputs: OriginInputs, mu: dict[int, float], residuals: dict[int, np.ndarray], n_draws: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """``simulate_scores`` from prepared ``origin_inputs``: what a backtest calls once per model at an origin.

    A sector whose bankruptcy forecast is missing (NaN: a baseline that could not forecast it) gets no score
    forecast — no row, never an invented one; the other sectors' draws are unchanged (seeded per sector).
    """
    rows = []
    for sector in sorted(int(s) for s in mu):
        rng = np.random.default_rng([seed, sector])
        m = float(mu[sector])
        if np.isnan(m):
            continue
        if not np.isfinite(m) or m < 0:
            raise ValueError(f"simulate_scores: sector {sector} mean {m} is not a finite count >= 0")
        res = np.asarray(residuals.get(sector, []), dtype="float64")
        res = res[np.isfinite(res)]
        r = rng.choice(res, size=n_draws, replace=True) if len(res) else np.zeros(n_draws)
        y_target = np.maximum(0.0, m + np.sqrt(m + 1.0) * r)
        births, basis = _births_draws(inputs, sector, n_draws, rng)
        bank = inputs.bankruptcies.get(sector, np.full(len(inputs.window), np.nan))
        quarterly_births = np.stack(list(births.values()), axis=1)[:, inputs.columns] / 4.0
        counts = np.concatenate([np.broadcast_to(bank, (n_draws, len(inputs.window))), y_target[:, None]], axis=1)
        scores = series_scores(quarterly_births, counts, last_only=True)[1]
        if np.isnan(scores).all():
            q = [np.nan] * len(_QUANTILES)
        else:
            q = np.nanquantile(scores, _QUANTILES).tolist()
        if not len(res):
            q = [q[0]] + [np.nan] * (len(_QUANTILES) - 1)
        rows.append((sector, inputs.target, *q, basis))
    return pd.DataFrame(rows, columns=SIM_COLUMNS)
