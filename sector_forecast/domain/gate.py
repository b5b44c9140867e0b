"""The promotion gate: a challenger replaces the best baseline only with statistical evidence that it is better.

A lower backtest MASE on a few dozen origins can be luck, so the candidate must also win a one-sided
Diebold–Mariano test against the **best** baseline (lowest MASE among naive, seasonal naive, the recent mean and
Theta), and because the candidate is the best of several challengers picked on the same origins, its p-value is
Holm-corrected for the number of challengers tested. Losses are compared per origin (the mean scaled error over
the sectors both models forecast at that origin), because the ten sectors of one origin share the same shocks
and are not ten independent observations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from sector_forecast.domain.forecasters import BASELINES
from sector_forecast.domain.jsonable import to_json


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
    # scipy.special's stdtr is what scipy.stats.t.cdf computes, without importing scipy.stats (~1.5 s).
    from scipy.special import stdtr

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
    return statistic, float(stdtr(t_len - 1, statistic))


def _p(pvalue: float) -> str:
    return "p < 0.001" if pvalue < 0.001 else f"p = {pvalue:.3f}"


def _graded(predictions: pd.DataFrame) -> pd.DataFrame:
    rows = predictions[predictions["actual"].notna() & predictions["prediction"].notna()
                       & (predictions["scale"] > 0)]
    return rows.assign(loss=(rows["prediction"] - rows["actual"]).abs() / rows["scale"])


def paired_losses(predictions: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Per origin, the mean scaled error of ``a`` and of ``b`` over the sectors both graded (columns a, b, rows).

    A sector one model could not forecast at an origin (a baseline's missing input) is left out of both.
    """
    graded = _graded(predictions[predictions["model"].isin([a, b])])
    wide = graded.pivot_table(index=["origin", "sector"], columns="model", values="loss", aggfunc="first")
    wide = wide.reindex(columns=[a, b]).dropna()
    out = wide.groupby(level="origin").agg(["mean", "size"])
    return pd.DataFrame({"a": out[(a, "mean")], "b": out[(b, "mean")], "rows": out[(a, "size")]}).sort_index()


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
    pvalue_holm: float = math.nan
    baselines: tuple[str, ...] = ()
    challengers: tuple[dict, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able values (NaN → None), for MLflow tags, asset metadata and reports."""
        return to_json(asdict(self))

    def flat(self) -> dict[str, object]:
        """The scalar fields only (the contract's and the UI's one-row table)."""
        return {k: v for k, v in asdict(self).items() if k not in ("baselines", "challengers")}


def _challenger_tests(predictions: pd.DataFrame, names: list[str], baseline: str, horizon: int = 1) -> list[dict]:
    """One-sided DM/HLN of each challenger against ``baseline`` on their common origins, Holm-adjusted.

    At horizon h consecutive origins' errors overlap by h−1 quarters of shocks: ``dm_test`` counts h−1
    autocovariances and HLN's small-sample factor for that h.
    """
    from statsmodels.stats.multitest import multipletests

    tests = []
    for name in names:
        pairs = paired_losses(predictions, name, baseline)
        statistic, pvalue = dm_test(pairs["a"], pairs["b"], h=horizon)
        tests.append({"model": name, "mase": float(pairs["a"].mean()) if len(pairs) else math.nan,
                      "baseline_mase": float(pairs["b"].mean()) if len(pairs) else math.nan,
                      "origins": len(pairs), "rows": int(pairs["rows"].sum()), "statistic": statistic,
                      "pvalue": pvalue, "pvalue_holm": math.nan})
    testable = [t for t in tests if not math.isnan(t["pvalue"])]
    if testable:
        adjusted = multipletests([t["pvalue"] for t in testable], method="holm")[1]
        for t, p in zip(testable, adjusted, strict=True):
            t["pvalue_holm"] = float(p)
    return tests


def _reason(candidate: str, baseline: str, test: dict, alpha: float, m: int, promoted: bool) -> str:
    compared = (f"{candidate} MASE {test['mase']:.3f} vs {baseline} {test['baseline_mase']:.3f} over "
                f"{test['origins']} common origins ({test['rows']} sector forecasts)")
    holm = f"Holm-adjusted for {m} challenger{'s' if m != 1 else ''}"
    if promoted:
        return (f"{candidate} promoted: {compared}; one-sided Diebold-Mariano (HLN) {_p(test['pvalue'])}, "
                f"{holm} {_p(test['pvalue_holm'])}, below the {alpha:.2f} bar.")
    if math.isnan(test["pvalue"]):
        return f"{baseline} stays champion: {compared} — too few common origins to test."
    if not test["mase"] < test["baseline_mase"]:
        return f"{baseline} stays champion: {compared} — the best challenger is not more accurate."
    return (f"{baseline} stays champion: {compared} — the gain is not significant (one-sided Diebold-Mariano "
            f"{_p(test['pvalue'])}, {holm} {_p(test['pvalue_holm'])}, not below the {alpha:.2f} bar).")


def promotion_gate(
    predictions: pd.DataFrame, baselines: tuple[str, ...] = BASELINES, alpha: float = 0.10, horizon: int = 1
) -> GateDecision:
    """Champion = the best challenger if it beats the best baseline significantly after Holm, else that baseline.

    Best baseline / candidate = lowest MASE over all their graded rows (ties: name order); every model not in
    ``baselines`` is a challenger. Each challenger is DM-tested against the best baseline on the (origin, sector)
    pairs both graded; the p-values are Holm-adjusted over the challengers tested. The candidate is promoted iff
    its MASE on the common origins is lower AND its Holm-adjusted p < ``alpha``. ``predictions`` hold one
    ``horizon``'s forecasts (the DM test's h). Raises ValueError when no baseline has a graded forecast.
    """
    graded = _graded(predictions)
    mase = graded.groupby(graded["model"].astype(str))["loss"].mean().dropna()
    ranked = [m for m, _ in sorted(mase.items(), key=lambda kv: (kv[1], kv[0]))]
    base_ranked = [m for m in ranked if m in baselines]
    if not base_ranked:
        raise ValueError(f"promotion_gate: no graded forecasts of the baselines {list(baselines)}")
    baseline, challengers = base_ranked[0], [m for m in ranked if m not in baselines]
    listed = tuple(m for m in ranked if m in baselines)
    if not challengers:
        return GateDecision(
            baseline, None, baseline, math.nan, float(mase[baseline]), math.nan, math.nan, 0, False,
            f"No challenger has graded forecasts; serving the best baseline {baseline} (MASE {mase[baseline]:.3f}).",
            alpha, baselines=listed)
    tests = _challenger_tests(graded, challengers, baseline, horizon)
    test = tests[0]  # challengers are ranked by MASE: the first is the candidate
    m = sum(not math.isnan(t["pvalue"]) for t in tests)
    promoted = bool(test["mase"] < test["baseline_mase"] and test["pvalue_holm"] < alpha)
    return GateDecision(
        test["model"] if promoted else baseline, test["model"], baseline, test["mase"], test["baseline_mase"],
        test["statistic"], test["pvalue"], test["origins"], promoted,
        _reason(test["model"], baseline, test, alpha, m, promoted), alpha, pvalue_holm=test["pvalue_holm"],
        baselines=listed, challengers=tuple(tests))
