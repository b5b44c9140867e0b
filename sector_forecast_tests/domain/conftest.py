"""A synthetic panel with known levels and seasons, and its features: what the forecasters and horizons tests
fit on (one definition; a module that redefines `panel` or `features` uses its own)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.features import build_features
from sector_forecast.domain.periods import quarter_of_year, quarter_range, quarter_year

LEVEL = {s: 4 + 3 * s for s in range(1, 11)}  # mean bankruptcies a quarter: 7 … 34
SEASON = {1: 1.25, 2: 1.0, 3: 0.8, 4: 0.95}


def make_panel(seed: int = 3) -> pd.DataFrame:
    """2012Q1–2023Q4, ten sectors, seasonal Poisson counts; births published 2019–2022, nowcast 2023."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in quarter_range("2012Q1", "2023Q4"):
        year = quarter_year(q)
        for s in range(1, 11):
            annual = {y: 400.0 * s + 40.0 * (y - 2019) for y in range(2019, 2023)}
            births = annual[year] / 4 if year in annual else np.nan
            if year == 2023:  # mean of the last three published years
                births = np.mean([annual[y] for y in (2020, 2021, 2022)]) / 4
            prov = "unavailable" if year < 2019 else ("nowcast" if year == 2023 else "published")
            rows.append((s, q, int(rng.poisson(LEVEL[s] * SEASON[quarter_of_year(q)])), births, prov))
    panel = pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance"])
    return panel.astype({"bankruptcies": "Int64"})


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """The synthetic panel, built once per test module."""
    return make_panel()


@pytest.fixture(scope="module")
def features(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel's features for every quarter 2012Q1–2023Q4 (what the fits and horizons tests train on)."""
    return build_features(panel, quarter_range("2012Q1", "2023Q4"))
