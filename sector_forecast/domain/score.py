"""The Sector Vitality Score: formula, justification and the one function that computes it."""

from __future__ import annotations

import numpy as np
import pandas as pd

SCORE_FORMULA_MD: str = r"""## Sector Vitality Score

For sector *s* in quarter *q*:

$$\text{score}_{s,q} = \frac{\text{births}_{s,q} + 1}{\text{births}_{s,q} + \text{bankruptcies}_{s,q} + 2}$$

- **births**: new enterprises (DEMO14, `MÆNGDE4=NYE`, all Denmark) of the quarter's year divided by 4 — the
  annual count spread evenly over the year's quarters, not copied into each — or a flagged nowcast while
  DEMO14 has not yet published that year.
- **bankruptcies**: declared bankruptcies of active enterprises (KONK25, `VIRKTYP1=K02`) summed over the
  quarter's three months.

**Reading it.** The score is the share of the quarter's observed firm entries and bankruptcy exits that
are entries, so it lies in [0, 1]: above 0.5 more firms are born than go bankrupt, 1 means births only.
The +1/+2 (Laplace) smoothing pulls small sectors towards 0.5 and makes 0 births and 0 bankruptcies give
exactly 0.5 instead of an undefined 0/0.

**Why this form.** It uses only that quarter's own counts: it needs no firm stock (the reference design
invented one) and no normalisation over history (the reference design min-max scaled over all quarters,
so every score changed whenever a new quarter arrived and the training data leaked the test period).
A published score therefore never changes when later quarters arrive. It is missing (NaN) when either
count is missing: bankruptcies suppressed by DST (`..`, never read as 0) or births unavailable (quarters
before 2019, where DEMO14 does not reach).
"""
# The module docstring carries the markdown too, so help() and the API docs show the formula.
__doc__ = f"{__doc__ or ''}\n\n{SCORE_FORMULA_MD}"


def vitality_score(births: pd.Series | np.ndarray, bankruptcies: pd.Series | np.ndarray) -> pd.Series:
    """Element-wise (births + 1) / (births + bankruptcies + 2); NaN where either input is missing.

    Negative counts are a data error upstream, so they raise instead of producing a score outside [0, 1].
    """
    index = births.index if isinstance(births, pd.Series) else None
    b = pd.to_numeric(pd.Series(births, index=index), errors="raise").astype("float64")
    k = pd.to_numeric(pd.Series(bankruptcies, index=b.index), errors="raise").astype("float64")
    if (b < 0).any() or (k < 0).any():
        raise ValueError("vitality_score: births and bankruptcies must be non-negative")
    return ((b + 1.0) / (b + k + 2.0)).rename("score")
