"""The vitality score: known values, bounds, missing inputs and invariance to later data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.score import SCORE_FORMULA_MD, vitality_score


def test_known_values_and_smoothing():
    s = vitality_score(pd.Series([0.0, 10.0, 0.0, 98.0]), pd.Series([0, 2, 8, 0]))
    assert s.tolist() == pytest.approx([0.5, 11 / 14, 1 / 10, 99 / 100])


def test_bounds_on_random_counts():
    rng = np.random.default_rng(0)
    s = vitality_score(pd.Series(rng.uniform(0, 5000, 500)), pd.Series(rng.integers(0, 500, 500)))
    assert ((s > 0) & (s < 1)).all()


def test_missing_inputs_give_nan_never_zero():
    s = vitality_score(pd.Series([np.nan, 5.0]), pd.array([3, pd.NA], dtype="Int64"))
    assert s.isna().all()


def test_negative_counts_raise():
    with pytest.raises(ValueError):
        vitality_score(pd.Series([-1.0]), pd.Series([0]))


def test_score_of_a_quarter_ignores_later_quarters():
    births, bank = pd.Series([100.0, 120.0]), pd.Series([10, 30])
    longer = vitality_score(pd.concat([births, pd.Series([1e6])]), pd.concat([bank, pd.Series([0])]))
    assert vitality_score(births, bank).tolist() == longer.iloc[:2].tolist()


def test_formula_markdown_is_exported():
    assert "births" in SCORE_FORMULA_MD and "+ 2" in SCORE_FORMULA_MD
