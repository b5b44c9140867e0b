"""Features: known values, no look-ahead, target from the next quarter only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.contracts import FEATURE_SCHEMA, validate
from sector_forecast.domain.features import FEATURE_COLUMNS, FEATURE_LINEAGE, PANEL_LINEAGE, build_features
from sector_forecast.domain.panel import PANEL_COLUMNS
from sector_forecast.domain.periods import quarter_range
from sector_forecast.domain.score import vitality_score


def make_panel(first="2018Q1", last="2024Q4", seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for q in quarter_range(first, last):
        for s in range(1, 11):
            early = q < "2019"
            rows.append(
                {
                    "sector": s,
                    "quarter": q,
                    "bankruptcies": int(rng.poisson(5 + 3 * s)),
                    "births": np.nan if early else float(rng.poisson(50 * s)),
                    "births_provenance": "unavailable"
                    if early
                    else ("nowcast" if q >= "2024" else "published"),
                }
            )
    p = pd.DataFrame(rows).astype({"bankruptcies": "Int64"})
    p["score"] = vitality_score(p["births"], p["bankruptcies"])
    return p


def test_values_for_one_row():
    panel = make_panel()
    f = build_features(panel, ["2021Q2"]).set_index("sector")
    s = panel[panel["sector"] == 4].set_index("quarter")["score"]
    row = f.loc[4]
    assert row["quarter_of_year"] == 2 and row["score"] == s["2021Q2"]
    assert row["score_lag1"] == s["2021Q1"] and row["score_lag4"] == s["2020Q2"]
    assert row["score_mean_4q"] == pytest.approx(s["2020Q3":"2021Q2"].mean())
    assert row["score_std_8q"] == pytest.approx(s["2019Q3":"2021Q2"].std())
    assert row["momentum"] == pytest.approx(row["score"] - row["score_mean_4q"])
    assert row["target"] == s["2021Q3"]
    b = panel[panel["sector"] == 4].set_index("quarter")["bankruptcies"].astype(float)
    assert row["bankruptcy_growth_yoy"] == pytest.approx(np.log((b["2021Q2"] + 1) / (b["2020Q2"] + 1)))
    total = panel.loc[panel["quarter"] == "2021Q2", "bankruptcies"].sum()
    assert row["bankruptcy_share"] == pytest.approx(b["2021Q2"] / total)
    assert len(f) == 10 and f["births_nowcast"].eq(0).all()
    assert list(build_features(panel, ["2024Q4"])["births_nowcast"].unique()) == [1]


def test_no_look_ahead_later_quarters_perturbed():
    panel = make_panel()
    quarters = quarter_range("2019Q1", "2022Q4")
    base = build_features(panel, quarters)
    later = panel["quarter"] > "2022Q4"
    noisy = panel.copy()
    noisy.loc[later, "bankruptcies"] = 999
    noisy.loc[later, "births"] = 1.0
    noisy.loc[later, "score"] = 0.01
    noisy = noisy.sample(frac=1.0, random_state=1)  # order must not matter either
    changed = build_features(noisy, quarters)
    cols = [c for c in base.columns if c != "target"]
    pd.testing.assert_frame_equal(base[cols], changed[cols])
    # The target only depends on q+1: unchanged except for the last quarter, whose target is 2023Q1.
    last = base["quarter"] == "2022Q4"
    pd.testing.assert_series_equal(base.loc[~last, "target"], changed.loc[~last, "target"])
    assert (changed.loc[last, "target"] == 0.01).all()


def test_target_nan_when_next_quarter_missing_and_short_history_nan():
    panel = make_panel()
    f = build_features(panel[panel["quarter"] <= "2020Q2"], ["2020Q2", "2019Q1"])
    assert f.loc[f["quarter"] == "2020Q2", "target"].isna().all()
    first = f[f["quarter"] == "2019Q1"]
    assert first["score_lag1"].isna().all() and first["score_mean_4q"].isna().all()
    with pytest.raises(ValueError, match="not in the panel window"):
        build_features(panel, ["2030Q1"])


def test_gap_in_window_is_not_bridged():
    panel = make_panel()
    gap = panel[panel["quarter"] != "2021Q1"]
    f = build_features(gap, ["2021Q2"])
    assert f["score_lag1"].isna().all()
    s = panel[panel["sector"] == 1].set_index("quarter")["score"]
    assert f.iloc[0]["score_lag2"] == s["2020Q4"]


def test_schema_and_lineage_cover_all_columns():
    f = build_features(make_panel(), quarter_range("2018Q1", "2024Q4"))
    assert validate(FEATURE_SCHEMA, f) == []
    assert set(FEATURE_COLUMNS) | {"quarter", "target"} == set(FEATURE_LINEAGE) == set(f.columns)
    assert set(PANEL_LINEAGE) == set(PANEL_COLUMNS)
    assert "sector" in FEATURE_COLUMNS
