"""A stationary null model of the ten sectors' quarterly bankruptcies, fitted to the bundled counts.

The monitors' false-alarm rates on the bundled data are in-sample (their window and statistics were chosen
on those counts) and few (about fifty quarters). Panels simulated from a model *without* drift give an
out-of-sample rate on as many quarters as wanted. The model is the simplest one that keeps what the
monitors are sensitive to:

    y[s,t] ~ Poisson(λ[s,t]),  log λ[s,t] = base[s, quarter of year] + c[t] + e[s,t]
    c[t]   = φ c[t−1] + N(0, σ_c²)          one business cycle shared by all sectors
    e[s,t] = φ_s e[s,t−1] + N(0, σ_s²)      each sector's own over-dispersion, with its own persistence

- ``base``: per-sector level and quarter-of-year seasonality (mean log count per sector and quarter of
  year), because the monitors compare a quarter with the three years before it, seasons included.
- ``c``: the sectors co-move (the median's lag-1 autocorrelation is about 0.7 on the bundled data); a
  null without it would make the common-level test look better than it is.
- ``e``: Poisson noise alone is far too small for the large sectors (a log-scale sd of 0.07 at 200 a
  quarter against 0.11 observed); its variance is the observed one minus the Poisson part, and its
  persistence the observed lag-1 autocovariance over that variance.

Both processes are AR(1) with |φ| < 1 started from their stationary law, so every simulated quarter has the
same distribution: any alarm on these panels is false. Fitted on quarters outside known shifts only. Its
conditional mean E[y[s,t] | the past] = exp(base + φ c[t−1] + φ_s e[s,t−1] + (σ_c² + σ_s²)/2) is the
forecast the performance monitor judges on simulated panels (``simulate`` returns it): the statistic only
needs residuals and their scales, and the null model's own one-step forecast is exact and free, where
re-fitting the champion on hundreds of panels would cost hours.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import quarter_of_year

MAX_PHI = 0.95  # keep the fitted processes stationary (a unit root would be drift, not a null)


@dataclass(frozen=True)
class NullModel:
    """Fitted parameters (arrays by sector in ``sectors`` order; ``base`` is 4 quarters × sectors)."""

    sectors: tuple[int, ...]
    base: np.ndarray
    common_phi: float
    common_sd: float
    sector_phi: np.ndarray
    sector_sd: np.ndarray

    def describe(self) -> dict:
        """JSON-able parameters, rounded for a report."""
        d = asdict(self)
        return {"sectors": list(self.sectors), "mean_per_quarter": np.round(np.exp(self.base), 1).tolist(),
                "common_phi": round(self.common_phi, 3), "common_sd": round(self.common_sd, 3),
                "sector_phi": np.round(d["sector_phi"], 3).tolist(),
                "sector_sd": np.round(d["sector_sd"], 3).tolist()}


def _ar1(x: np.ndarray, keep: np.ndarray, variance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(φ, innovation sd) per column of ``x`` from pairs of consecutive kept rows; ``variance``: the latent one."""
    pair = keep[1:] & keep[:-1]
    a, b = x[1:][pair], x[:-1][pair]
    var = np.nanvar(x[keep], axis=0, ddof=1) if variance is None else variance
    cov = np.nanmean((a - a.mean(axis=0)) * (b - b.mean(axis=0)), axis=0)
    phi = np.clip(cov / var, 0.0, MAX_PHI)
    return phi, np.sqrt(var * (1 - phi**2))


def fit_null_model(wide: pd.DataFrame, excluded: set[str] | frozenset[str] = frozenset()) -> NullModel:
    """Fit to a quarter × sector matrix of counts (index ``YYYYQn``), ignoring ``excluded`` quarters and NaNs."""
    keep = ~wide.index.isin(list(excluded)) & wide.notna().all(axis=1).to_numpy()
    y = wide.to_numpy(dtype="float64")
    logs = np.log1p(y)
    qoy = np.array([quarter_of_year(q) for q in wide.index]) - 1
    base = np.vstack([np.nanmean(np.where(keep[:, None] & (qoy == k)[:, None], logs, np.nan), axis=0)
                      for k in range(4)])
    dev = logs - base[qoy]
    common = np.median(dev, axis=1)
    phi_c, sd_c = _ar1(common[:, None], keep)
    own = dev - common[:, None]
    poisson = np.nanmean(np.where(keep[:, None], 1 / (y + 1), np.nan), axis=0)  # var of log1p(Poisson) ≈ 1/λ
    latent = np.maximum(np.nanvar(np.where(keep[:, None], own, np.nan), axis=0, ddof=1) - poisson, 1e-4)
    phi_s, sd_s = _ar1(own, keep, latent)
    return NullModel(tuple(int(s) for s in wide.columns), base, float(phi_c[0]), float(sd_c[0]), phi_s, sd_s)


def _ar1_paths(rng: np.random.Generator, shape: tuple[int, ...], phi: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """AR(1) paths along axis 1 of ``shape`` (panels, T, k), each started from its stationary law."""
    eps = rng.standard_normal(shape) * sd
    x = np.empty(shape)
    x[:, 0] = eps[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + eps[:, t]
    return x


def simulate(model: NullModel, panels: int, first_quarter: str, quarters: int, seed: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """(counts, conditional mean), each ``(panels, quarters, sectors)``; reproducible from ``seed``.

    The conditional mean of the first quarter (no past) is NaN: no forecast is judged there.
    """
    rng = np.random.default_rng(seed)
    S = len(model.sectors)
    common = _ar1_paths(rng, (panels, quarters, 1), np.array([model.common_phi]), np.array([model.common_sd]))
    own = _ar1_paths(rng, (panels, quarters, S), model.sector_phi, model.sector_sd)
    start = quarter_of_year(first_quarter) - 1
    base = model.base[(start + np.arange(quarters)) % 4]  # (T, S)
    counts = rng.poisson(np.exp(base + common + own)).astype("float64")
    ahead = base[1:] + model.common_phi * common[:, :-1] + model.sector_phi * own[:, :-1]
    mu = np.exp(ahead + (model.common_sd**2 + model.sector_sd**2) / 2)
    nan = np.full((panels, 1, S), np.nan)
    return counts, np.concatenate([nan, mu], axis=1)
