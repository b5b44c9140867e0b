"""The Sector Vitality Score: formula, justification and the functions that compute it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain.periods import quarter_of_year, quarter_range

SCORE_WINDOW = 20
SCORE_MIN_HISTORY = 8
BALANCE_QUARTERS = 4
# Quarters of counts before q that q's score reads: the 20 history balances, each over its own four quarters.
SCORE_LOOKBACK = SCORE_WINDOW + BALANCE_QUARTERS - 1

SCORE_FORMULA_MD: str = r"""## Sector Vitality Score

For sector *s* in quarter *q*, first the **balance** of firm entries against bankruptcy exits over the four
quarters ending with *q* (the trailing year):

$$\text{balance}_{s,q} = \log\frac{B_{s,q} + 1}{K_{s,q} + 1}, \qquad
B_{s,q} = \sum_{i=0}^{3}\text{births}_{s,q-i}, \quad K_{s,q} = \sum_{i=0}^{3}\text{bankruptcies}_{s,q-i}$$

then the **score** is the mid-rank percentile of that balance *b* within the sector's own trailing history
*H* = the balances of the (up to) 20 quarters before *q*:

$$\text{score}_{s,q} = \frac{\#\{h \in H : h < b\} + \tfrac12\,\#\{h \in H : h = b\} + \tfrac12}{|H| + 1}$$

- **births**: new enterprises (DEMO14, `MÆNGDE4=NYE`, all Denmark) of the quarter's year divided by 4. Only
  *published* DEMO14 years count; a balance needing a quarter whose births are still a nowcast (or before
  DEMO14's first year) is missing, and so is its score.
- **bankruptcies**: declared bankruptcies of active enterprises (KONK25, `VIRKTYP1=K02`) summed over the
  quarter's three months; a suppressed month (`..`) leaves every balance that needs its quarter missing.
- The score is missing while the sector has fewer than 8 earlier quarters with a balance.

**Reading it.** 0.5: the last four quarters balanced entries and bankruptcies as the sector usually does
(its trailing years over the last five years); 0.9: a better balance than about nine in ten of them; 0.1: a
worse one than nine in ten. It is a within-sector reading: a 0.8 in construction and a 0.8 in real estate are
each unusually good *for that sector*, whatever their absolute levels. The +½ terms keep it inside (0, 1).

**Why this form.** Summing four consecutive quarters compares like with like: every balance holds one of
each quarter of the year, so a fixed seasonal pattern of bankruptcies adds the same to every balance and
cancels in the ranking (a single quarter's balance made every fourth quarter read as a bad one), and the
annual births enter as a ramp — Q1 holds ¾ of last year's births and ¼ of this year's, Q4 all of this
year's — instead of a step at each year boundary. The price: the score reads the trailing year, so it moves
more slowly than one quarter's counts, and it starts three quarters later. The log ratio treats "twice as many
births as bankruptcies" alike in big and small sectors, and the +1 keeps zero counts finite. Ranking against the
sector's own past removes the sectors' levels without an invented firm stock and uses only the quarter and
earlier ones (no min-max scaling over the whole history, which leaked the future). A published score changes
only if one of its inputs is revised. Bankruptcies move far more than births from quarter to quarter, so the
score mostly follows them: ``score_drivers`` measures how much.
`entry_share` = (births + 1)/(births + bankruptcies + 2) of the quarter alone, the first score, is kept as a
descriptive column.
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
    """Along the last axis, position i = the ``window`` values before i (NaN-padded); shape (..., len, window)."""
    v = np.asarray(values, dtype="float64")
    padded = np.concatenate([np.full((*v.shape[:-1], window), np.nan), v], axis=-1)
    return np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)[..., : v.shape[-1], :]


def trailing_sum(values: np.ndarray, quarters: int = BALANCE_QUARTERS) -> np.ndarray:
    """Along the last axis, the sum of the ``quarters`` values ending at each position; NaN if any is missing."""
    v = np.asarray(values, dtype="float64")
    padded = np.concatenate([np.full((*v.shape[:-1], quarters - 1), np.nan), v], axis=-1)
    n = v.shape[-1]
    # Shifted slices added in turn, in place (the simulation sums thousands of draws per sector): NaN
    # propagates, and it is several times faster than a strided .sum(). Order as before: ((0 + v1) + v2) ... + v0.
    parts = [padded[..., i : i + n] for i in (*range(1, quarters), 0)]
    total = 0 + parts[0]
    for part in parts[1:]:
        total += part
    return total


def series_scores(
    births: np.ndarray, bankruptcies: np.ndarray, last_only: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(balance, score) of every quarter of a sector's series — the one definition the panel and simulation use.

    Last axis = consecutive calendar quarters (NaN = not published); leading axes broadcast (simulation draws).
    balance = log((four-quarter births + 1) / (four-quarter bankruptcies + 1)); score = its mid-rank
    percentile among the balances of the SCORE_WINDOW quarters before. ``last_only`` scores only the last
    quarter (same windows, same result there): the simulation needs only the target's score of each draw.
    """
    bal = np.log((trailing_sum(births) + 1.0) / (trailing_sum(bankruptcies) + 1.0))
    if last_only:
        return bal, percentile_score(bal[..., -1], trailing_windows(bal[..., -SCORE_WINDOW - 1:])[..., -1, :])
    return bal, percentile_score(bal, trailing_windows(bal))


def _sector_series(panel: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per sector: (its row numbers, their grid positions, published births, bankruptcies) on a calendar grid.

    The grid spans the panel's quarters, so a quarter absent from the panel is a gap, never a neighbour.
    """
    if panel.duplicated(["sector", "quarter"]).any():
        raise ValueError("score: duplicate (sector, quarter) rows in the panel")
    if not len(panel):
        return []
    b, k = _counts(panel["births"], panel["bankruptcies"])
    births = np.where((panel["births_provenance"] == "published").to_numpy(), b.to_numpy(), np.nan)
    grid = quarter_range(str(panel["quarter"].min()), str(panel["quarter"].max()))
    position = {q: i for i, q in enumerate(grid)}
    sectors, quarters = panel["sector"].to_numpy(), panel["quarter"].astype(str).to_numpy()
    out = []
    for s in np.unique(sectors):
        rows = np.flatnonzero(sectors == s)
        at = np.array([position[q] for q in quarters[rows]])
        series = np.full((2, len(grid)), np.nan)
        series[0, at], series[1, at] = births[rows], k.to_numpy()[rows]
        out.append((rows, at, series[0], series[1]))
    return out


def panel_scores(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel plus ``entry_share``, ``balance`` and ``score`` (row order and other columns kept).

    Needs a multi-quarter panel (columns sector, quarter, bankruptcies, births, births_provenance): a balance
    reads its quarter and the three before, a score the SCORE_WINDOW balances before it (SCORE_LOOKBACK
    quarters of counts in all). ``entry_share`` is the quarter's own, with whatever births the row has
    (flagged by births_provenance); ``balance`` and ``score`` use only published births.
    """
    out = panel.drop(columns=["entry_share", "balance", "score"], errors="ignore").copy()
    out["entry_share"] = entry_share(out["births"], out["bankruptcies"]).to_numpy()
    balances, scores = np.full(len(out), np.nan), np.full(len(out), np.nan)
    for rows, at, births, bankruptcies in _sector_series(out):
        bal, sc = series_scores(births, bankruptcies)
        balances[rows], scores[rows] = bal[at], sc[at]
    out["balance"], out["score"] = balances, scores
    return out


def score_distribution(panel: pd.DataFrame) -> pd.DataFrame:
    """Per sector: how the score spreads, beside the old entry share on the same quarters (for README/UI)."""
    rows = panel.dropna(subset=["score"])
    out = rows.groupby("sector").agg(
        quarters=("score", "size"), score_mean=("score", "mean"), score_sd=("score", "std"),
        score_min=("score", "min"), score_max=("score", "max"), entry_share_sd=("entry_share", "std"),
    )
    return out.reset_index().astype({"sector": "int64", "quarters": "int64"})


def quarter_of_year_test(panel: pd.DataFrame) -> dict:
    """Kruskal–Wallis test of the published scores grouped by quarter of year (Q1..Q4): is there a season?

    Uses the panel's ``score`` column (or computes it). A rank test because scores are percentiles, pooled over
    sectors because each is already relative to its own sector. Neighbouring scores share three of their four
    quarters, so they are not independent as the test assumes: the four quarters of a year score alike, which
    pulls the group means together and p up (season-free simulated panels give p ≈ 0.6–1), while a trend over
    few years can pull them apart. Read p > 0.10 as no sign of a season, not as proof, beside ``means``.
    pvalue/statistic are NaN with fewer than two quarters of year or all-equal scores.
    """
    from scipy.stats import kruskal  # scipy loads only where the test is asked for

    scored = panel if "score" in panel else panel_scores(panel)
    rows = scored.dropna(subset=["score"])
    season = rows["quarter"].astype(str).map(quarter_of_year)
    groups = {f"Q{q}": rows.loc[season == q, "score"].to_numpy(float) for q in sorted(season.unique())}
    means = {f"Q{q}": float(groups[f"Q{q}"].mean()) if f"Q{q}" in groups else float("nan") for q in range(1, 5)}
    statistic, pvalue = float("nan"), float("nan")
    if len(groups) >= 2 and rows["score"].nunique() > 1:
        result = kruskal(*groups.values())
        statistic, pvalue = float(result.statistic), float(result.pvalue)
    return {"pvalue": pvalue, "statistic": statistic, "n": int(len(rows)), "means": means}


def score_drivers(panel: pd.DataFrame) -> dict:
    """How much of the score is bankruptcies and how much births, as two Pearson correlations.

    For every sector, two one-input scores are computed with the score's own percentile and window, on the
    same quarters (those with a balance): ``-log(four-quarter bankruptcies + 1)`` alone (sign flipped, so
    higher = fewer bankruptcies) and ``log(four-quarter births + 1)`` alone. ``corr_bankruptcies_only`` and
    ``corr_births_only`` are the Pearson correlations of the published score with each, pooled over sectors
    and quarters where all three exist (``n``); NaN below three such rows. A score that were the bankruptcy
    percentile in disguise would give 1 and ~0.
    """
    score, by_bankruptcies, by_births = [], [], []
    for _, _, births, bankruptcies in _sector_series(panel):
        bal, sc = series_scores(births, bankruptcies)
        has = np.isfinite(bal)
        k_only = np.where(has, -np.log(trailing_sum(bankruptcies) + 1.0), np.nan)
        b_only = np.where(has, np.log(trailing_sum(births) + 1.0), np.nan)
        score.append(sc)
        by_bankruptcies.append(percentile_score(k_only, trailing_windows(k_only)))
        by_births.append(percentile_score(b_only, trailing_windows(b_only)))
    s, k, b = (np.concatenate(x) if x else np.array([]) for x in (score, by_bankruptcies, by_births))
    both = np.isfinite(s) & np.isfinite(k) & np.isfinite(b)
    return {"corr_bankruptcies_only": _pearson(s[both], k[both]), "corr_births_only": _pearson(s[both], b[both]),
            "n": int(both.sum())}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r, NaN with fewer than three pairs or a constant side (np.corrcoef would warn and return NaN)."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])
