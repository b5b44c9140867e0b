"""The Sector Vitality Score: formula, justification and the functions that compute it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import quarter_range

SCORE_WINDOW = 20
SCORE_MIN_HISTORY = 8

SCORE_FORMULA_MD: str = r"""## Sector Vitality Score

For sector *s* in quarter *q*, first the quarter's **balance** of firm entries against bankruptcy exits:

$$\text{balance}_{s,q} = \log\frac{\text{births}_{s,q} + 1}{\text{bankruptcies}_{s,q} + 1}$$

then the **score** is the mid-rank percentile of that balance *b* within the sector's own trailing history
*H* = the balances of the (up to) 20 quarters before *q*:

$$\text{score}_{s,q} = \frac{\#\{h \in H : h < b\} + \tfrac12\,\#\{h \in H : h = b\} + \tfrac12}{|H| + 1}$$

- **births**: new enterprises (DEMO14, `MÆNGDE4=NYE`, all Denmark) of the quarter's year divided by 4. Only
  *published* DEMO14 years count; a quarter whose births are still a nowcast has no balance and no score.
- **bankruptcies**: declared bankruptcies of active enterprises (KONK25, `VIRKTYP1=K02`) summed over the
  quarter's three months; suppressed months (`..`) leave the quarter without a balance, never a 0.
- The score is missing while the sector has fewer than 8 earlier quarters with a balance.

**Reading it.** 0.5 is the sector's usual balance over the last five years; 0.9 means a better
entry-to-bankruptcy balance than in about nine of ten recent quarters, 0.1 a worse one than in nine of ten.
It is a within-sector reading: a 0.8 in construction and a 0.8 in real estate are each unusually good *for
that sector*, whatever their absolute levels. The +½ terms keep it strictly inside (0, 1).

**Why this form.** The log ratio treats "twice as many births as bankruptcies" alike in big and small
sectors, and the +1 keeps quarters with zero bankruptcies finite. Ranking against the sector's own past
removes the very different levels of the sectors without an invented firm stock, and uses only the quarter
itself and earlier ones: no min-max scaling over the whole history (which leaked the future and changed every
score whenever a quarter arrived). A published score changes only if one of its inputs is revised.
`entry_share` = (births + 1)/(births + bankruptcies + 2), the former score, is kept as a descriptive column.
"""
# The module docstring carries the markdown too, so help() and the API docs show the formula.
__doc__ = f"{__doc__ or ''}\n\n{SCORE_FORMULA_MD}"


def _counts(births: pd.Series | np.ndarray, bankruptcies: pd.Series | np.ndarray) -> tuple[pd.Series, pd.Series]:
    """Both inputs as float Series on one index (NA → NaN); negative counts are an upstream error."""
    index = births.index if isinstance(births, pd.Series) else None
    b = pd.to_numeric(pd.Series(births, index=index), errors="raise").astype("float64")
    k = pd.to_numeric(pd.Series(bankruptcies, index=b.index), errors="raise").astype("float64")
    if (b < 0).any() or (k < 0).any():
        raise ValueError("score: births and bankruptcies must be non-negative")
    return b, k


def entry_share(births: pd.Series | np.ndarray, bankruptcies: pd.Series | np.ndarray) -> pd.Series:
    """(births + 1) / (births + bankruptcies + 2): share of entries among entries and bankruptcy exits."""
    b, k = _counts(births, bankruptcies)
    return ((b + 1.0) / (b + k + 2.0)).rename("entry_share")


def balance(births: pd.Series | np.ndarray, bankruptcies: pd.Series | np.ndarray) -> pd.Series:
    """log((births + 1) / (bankruptcies + 1)); NaN where either count is missing."""
    b, k = _counts(births, bankruptcies)
    return np.log((b + 1.0) / (k + 1.0)).rename("balance")


def percentile_score(current: np.ndarray | float, history: np.ndarray) -> np.ndarray:
    """Mid-rank percentile of ``current`` in ``history`` (last axis, NaN = no balance) — the score's core.

    (#{h < b} + ½·#{h = b} + ½) / (n + 1); NaN where b is NaN or n < SCORE_MIN_HISTORY. Broadcasts, so the
    simulation scores thousands of draws at once with the same code as the panel.
    """
    b = np.asarray(current, dtype="float64")
    h = np.asarray(history, dtype="float64")
    valid = np.isfinite(h)
    n = valid.sum(axis=-1)
    below = (valid & (h < b[..., None])).sum(axis=-1)
    ties = (valid & (h == b[..., None])).sum(axis=-1)
    score = (below + 0.5 * ties + 0.5) / (n + 1.0)
    return np.where(np.isfinite(b) & (n >= SCORE_MIN_HISTORY), score, np.nan)


def trailing_windows(values: np.ndarray, window: int = SCORE_WINDOW) -> np.ndarray:
    """Row i = the ``window`` values before position i (NaN-padded at the start); shape (len, window)."""
    v = np.asarray(values, dtype="float64")
    padded = np.concatenate([np.full(window, np.nan), v])
    return np.lib.stride_tricks.sliding_window_view(padded, window)[: len(v)]


def panel_scores(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel plus ``entry_share``, ``balance`` and ``score`` (row order and other columns kept).

    Needs a multi-quarter panel (columns sector, quarter, bankruptcies, births, births_provenance). The
    window is calendar quarters: quarter q's history is q−20 … q−1 of its sector (quarters absent from the
    panel or without a balance do not count). ``entry_share`` uses whatever births the row has (flagged by
    births_provenance); ``balance`` and ``score`` only published births.
    """
    out = panel.drop(columns=["entry_share", "balance", "score"], errors="ignore").copy()
    if out.duplicated(["sector", "quarter"]).any():
        raise ValueError("panel_scores: duplicate (sector, quarter) rows")
    out["entry_share"] = entry_share(out["births"], out["bankruptcies"]).to_numpy()
    published = (out["births_provenance"] == "published").to_numpy()
    out["balance"] = np.where(published, balance(out["births"], out["bankruptcies"]).to_numpy(), np.nan)
    scores = np.full(len(out), np.nan)
    if len(out):
        grid = quarter_range(str(out["quarter"].min()), str(out["quarter"].max()))
        position = {q: i for i, q in enumerate(grid)}
        sectors, quarters = out["sector"].to_numpy(), out["quarter"].astype(str).to_numpy()
        for s in np.unique(sectors):
            rows = np.flatnonzero(sectors == s)
            at = np.array([position[q] for q in quarters[rows]])
            series = np.full(len(grid), np.nan)
            series[at] = out["balance"].to_numpy()[rows]
            scores[rows] = percentile_score(series, trailing_windows(series))[at]
    out["score"] = scores
    return out


def score_distribution(panel: pd.DataFrame) -> pd.DataFrame:
    """Per sector: how the score spreads, beside the old entry share on the same quarters (for README/UI)."""
    rows = panel.dropna(subset=["score"])
    out = rows.groupby("sector").agg(
        quarters=("score", "size"), score_mean=("score", "mean"), score_sd=("score", "std"),
        score_min=("score", "min"), score_max=("score", "max"), entry_share_sd=("entry_share", "std"),
    )
    return out.reset_index().astype({"sector": "int64", "quarters": "int64"})
