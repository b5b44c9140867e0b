"""Drift statistics: no drift on identical data, drift on shifted data, small samples never flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.drift import (
    feature_drift,
    ks_test,
    performance_degradation,
    prediction_shift,
    psi,
)


def frames(shift=0.0, n=200, seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.uniform(0, 1, n)})
    cur = pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.uniform(0, 1, n) + shift})
    return ref, cur


def test_identical_distributions_do_not_drift():
    ref, _ = frames()
    result = feature_drift(ref, ref.copy(), ["a", "b"])
    assert not result.dataset_drift and result.n_drifted == 0
    assert (result.table["p_value"] == 1.0).all() and result.table["psi"].abs().max() < 1e-9
    assert ks_test(ref["a"], ref["a"]) == (0.0, 1.0)


def test_shifted_distribution_drifts():
    ref, cur = frames(shift=1.5)
    result = feature_drift(ref, cur, ["a", "b"])
    assert result.dataset_drift and result.share_drifted == 1.0
    assert result.table["drifted"].all() and (result.table["psi"] > 0.25).all()
    assert "dataset drift" in result.summary and result.to_dict()["n_drifted"] == 2


def test_tiny_samples_are_not_testable():
    ref, cur = frames(shift=5.0)
    result = feature_drift(ref, cur.head(5), ["a", "b"], min_samples=8)
    assert (result.table["note"] == "sample too small").all()
    assert not result.table["drifted"].any() and not result.dataset_drift
    assert result.n_testable == 0 and "no feature testable" in result.summary
    # Only testable features count towards the share.
    mixed = cur.copy()
    mixed.loc[5:, "b"] = np.nan
    partial = feature_drift(ref, mixed, ["a", "b"])
    assert partial.n_testable == 1 and partial.share_drifted == 1.0


def test_psi_known_values():
    ref = np.arange(100, dtype=float)  # quartile bins with 25 values each
    assert psi(ref, ref, bins=4) == pytest.approx(0.0)
    cur = np.concatenate([np.full(50, 10.0), np.full(50, 90.0)])  # 50% in bin 1, 50% in bin 4
    expected = 2 * (0.5 - 0.25) * np.log(0.5 / 0.25) + 2 * (1e-4 - 0.25) * np.log(1e-4 / 0.25)
    assert psi(ref, cur, bins=4) == pytest.approx(expected)
    assert np.isnan(psi([], cur))


def test_prediction_shift():
    out = prediction_shift([0.5, 0.6, 0.7], [0.6, 0.7, 0.8])
    assert out["mean_shift"] == pytest.approx(0.1) and out["n_cur"] == 3


def test_performance_degradation_both_ways():
    assert performance_degradation(0.013, 0.010, margin=0.2) == (True, pytest.approx(1.3))
    assert performance_degradation(0.011, 0.010, margin=0.2) == (False, pytest.approx(1.1))
    assert performance_degradation(float("nan"), 0.01)[0] is False
