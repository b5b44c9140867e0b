"""The promotion gate: a model replaces the baselines only with statistical evidence that it is better.

A lower backtest MASE on a few dozen origins can be luck, so the candidate must also win a one-sided
Diebold–Mariano test against the better baseline. Losses are compared per origin (the mean scaled error
over sectors), because the ten sectors of one origin share the same shocks and are not ten independent
observations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


def dm_test(
    loss_a: pd.Series | np.ndarray, loss_b: pd.Series | np.ndarray, h: int = 1
) -> tuple[float, float]:
    """Diebold–Mariano test with the Harvey–Leybourne–Newbold correction; one-sided, H1: a has lower loss.

    d_t = loss_a − loss_b (Series are aligned on their index, e.g. origin; non-finite pairs dropped), T = #d,
    γ_k = (1/T)·Σ_{t>k} (d_t − d̄)(d_{t−k} − d̄), V = (γ_0 + 2·Σ_{k=1}^{h−1} γ_k)/T,
    DM = d̄/√V (Diebold & Mariano 1995), DM* = DM·√[(T + 1 − 2h + h(h−1)/T)/T] (Harvey, Leybourne &
    Newbold 1997), p = F_{t(T−1)}(DM*). For h = 1, DM* equals the paired t statistic exactly.
    If the autocovariance sum makes V <= 0 (possible for h > 1) γ_0 alone is used. Returns (NaN, NaN) with
    T < 2 or when all d are equal and zero.
    """
    # scipy.stats loads in ~1 s: here, not at module level, so defining the graph does not pay for it.
    from scipy.stats import t as t_dist

    if h < 1:
        raise ValueError(f"dm_test: horizon h must be >= 1, got {h}")
    if isinstance(loss_a, pd.Series) and isinstance(loss_b, pd.Series):
        loss_a, loss_b = loss_a.align(loss_b, join="inner")
    a, b = np.asarray(loss_a, dtype="float64"), np.asarray(loss_b, dtype="float64")
    if a.shape != b.shape:
        raise ValueError(f"dm_test: loss series differ in length ({len(a)} vs {len(b)})")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    t_len = len(d)
    if t_len < 2:
        return math.nan, math.nan
    dbar = float(d.mean())
    dc = d - dbar
    gammas = [float(dc[k:] @ dc[: t_len - k]) / t_len for k in range(min(h, t_len))]
    lrv = gammas[0] + 2.0 * sum(gammas[1:])
    if lrv <= 0:
        lrv = gammas[0]
    if lrv <= 0:  # every d equal: no variance to test against
        if dbar == 0:
            return math.nan, math.nan
        return (-math.inf, 0.0) if dbar < 0 else (math.inf, 1.0)
    dm = dbar / math.sqrt(lrv / t_len)
    hln = math.sqrt((t_len + 1 - 2 * h + h * (h - 1) / t_len) / t_len)
    statistic = hln * dm
    return statistic, float(t_dist.cdf(statistic, df=t_len - 1))


def _p(pvalue: float) -> str:
    return "< 0.001" if pvalue < 0.001 else f"= {pvalue:.3f}"


def _graded(predictions: pd.DataFrame) -> pd.DataFrame:
    rows = predictions[predictions["actual"].notna() & predictions["prediction"].notna()
                       & (predictions["scale"] > 0)]
    return rows.assign(loss=(rows["prediction"] - rows["actual"]).abs() / rows["scale"])


def origin_losses(predictions: pd.DataFrame, model: str) -> pd.Series:
    """Per origin (sorted): mean over graded sectors of |e|/scale — one loss per origin for the DM test."""
    rows = _graded(predictions[predictions["model"] == model])
    return rows.groupby(rows["origin"].astype(str))["loss"].mean().sort_index().rename("loss")


@dataclass(frozen=True)
class GateDecision:
    """Who serves and why; MASEs are over the origins both models graded, each origin weighted equally."""

    champion: str
    candidate: str | None
    baseline: str
    candidate_mase: float
    baseline_mase: float
    statistic: float
    pvalue: float
    origins: int
    promoted: bool
    reason: str
    alpha: float = 0.10

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able values (NaN → None), for MLflow tags, asset metadata and reports."""
        out: dict[str, object] = {}
        for key, value in asdict(self).items():
            if isinstance(value, float | np.floating):
                value = None if math.isnan(value) else float(value)
            out[key] = value
        return out


def promotion_gate(
    predictions: pd.DataFrame, baselines: tuple[str, ...] = ("naive", "seasonal_naive"), alpha: float = 0.10
) -> GateDecision:
    """Champion = the best non-baseline model if it beats the best baseline significantly, else that baseline.

    Candidate / best baseline = lowest MASE over all their graded rows (ties: name order). They are then
    compared on the origins both graded: promoted iff the candidate's MASE there is lower AND the one-sided
    DM test (h = 1) gives p < ``alpha``. Raises ValueError when no baseline has a graded forecast.
    """
    graded = _graded(predictions)
    mase = graded.groupby(graded["model"].astype(str))["loss"].mean().dropna()
    ranked = sorted(mase.items(), key=lambda kv: (kv[1], kv[0]))
    base_ranked = [m for m, _ in ranked if m in baselines]
    if not base_ranked:
        raise ValueError(f"promotion_gate: no graded forecasts of the baselines {list(baselines)}")
    baseline = base_ranked[0]
    candidates = [m for m, _ in ranked if m not in baselines]
    if not candidates:
        return GateDecision(
            baseline, None, baseline, math.nan, float(mase[baseline]), math.nan, math.nan, 0, False,
            f"No candidate model has graded forecasts; serving the best baseline {baseline} "
            f"(MASE {mase[baseline]:.3f}).", alpha,
        )
    candidate = candidates[0]
    loss_c, loss_b = origin_losses(graded, candidate).align(origin_losses(graded, baseline), join="inner")
    n = len(loss_c)
    cm, bm = float(loss_c.mean()) if n else math.nan, float(loss_b.mean()) if n else math.nan
    statistic, pvalue = dm_test(loss_c, loss_b)
    better = n > 0 and cm < bm
    promoted = bool(better and pvalue < alpha)
    compared = f"{candidate} MASE {cm:.3f} vs {baseline} {bm:.3f} over {n} common origins"
    if promoted:
        reason = (f"{candidate} promoted: {compared}; one-sided Diebold-Mariano (HLN) p {_p(pvalue)} "
                  f"< {alpha:.2f}.")
    elif math.isnan(pvalue):
        reason = f"{baseline} stays champion: {compared} — too few common origins to test."
    elif not better:
        reason = f"{baseline} stays champion: {compared} — the candidate is not more accurate."
    else:
        reason = (f"{baseline} stays champion: {compared} — the gain is not significant "
                  f"(Diebold-Mariano p {_p(pvalue)} >= {alpha:.2f}).")
    return GateDecision(
        candidate if promoted else baseline, candidate, baseline, cm, bm, statistic, pvalue, n, promoted,
        reason, alpha,
    )
