"""Contracts: valid frames pass; each kind of bad input yields failure cases naming the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.contracts.columns import QUARTER_REGEX
from sector_forecast.contracts.forecasting import FORECASTS_SCHEMA, GATE_SCHEMA, LEADERBOARD_SCHEMA, PREDICTIONS_SCHEMA
from sector_forecast.contracts.inputs import FEATURE_SCHEMA, PANEL_SCHEMA, demo14_raw_schema, konk_raw_schema
from sector_forecast.contracts.validation import summarize_failures, validate
from sector_forecast.domain.features import build_features
from sector_forecast.domain.forecasters import BACKTEST_COLUMNS
from sector_forecast.domain.panel import build_panel, quarterly_births
from sector_forecast.domain.periods import quarter_range
from sector_forecast.domain.score import panel_scores
from sector_forecast.domain.sectors import KONK4_BRANCHE_CODES, KONK25_BRANCHE25_CODES


def konk25(period="2024M01") -> pd.DataFrame:
    rows = [
        {"branche25": c, "virktyp1": v, "period": period, "bankruptcies": 3, "suppressed": False}
        for c in KONK25_BRANCHE25_CODES
        for v in ("K01", "K02", "K03")
    ]
    return pd.DataFrame(rows).astype({"bankruptcies": "Int64"})


def demo14(year="2022") -> pd.DataFrame:
    rows = [
        {
            "region": "000",
            "branchedb0710": b,
            "maengde4": m,
            "period": year,
            "value": 12.0,
            "suppressed": False,
        }
        for b in ("TOT", *map(str, range(1, 12)))
        for m in ("NYE", "OPH", "AFU", "OMS")
    ]
    return pd.DataFrame(rows)


def panel() -> pd.DataFrame:
    """2022Q1's ten rows, scored after the three quarters before it (a balance sums four quarters)."""
    quarters = quarter_range("2021Q2", "2022Q1")
    bank = pd.DataFrame(
        {
            "sector": np.tile(range(1, 11), 4),
            "quarter": np.repeat(quarters, 10),
            "bankruptcies": pd.array(np.tile(range(10), 4), dtype="Int64"),
            "bankruptcies_suppressed": False,
        }
    )
    births = pd.concat(quarterly_births({2021: demo14("2021"), 2022: demo14()}, q) for q in quarters)
    scored = panel_scores(build_panel(bank, births, None))
    return scored[scored["quarter"] == "2022Q1"].reset_index(drop=True)


def checks(failures):
    return {f["check"] for f in failures}


KONK = konk_raw_schema("branche25", KONK25_BRANCHE25_CODES, "2024M01")


def test_valid_frames_pass():
    assert validate(KONK, konk25()) == []
    konk4 = konk25().rename(columns={"branche25": "branche"}).assign(branche="4").drop_duplicates("virktyp1")
    assert validate(konk_raw_schema("branche", KONK4_BRANCHE_CODES, None), konk4) == []
    assert validate(demo14_raw_schema("2022"), demo14()) == []
    assert validate(PANEL_SCHEMA, panel()) == []


def test_unknown_code_names_row():
    df = konk25()
    df.loc[5, "branche25"] = "XX"
    (f,) = validate(KONK, df)
    assert f["column"] == "branche25" and f["index"] == 5 and f["failure_case"] == "XX"
    assert f["key"]["branche25"] == "XX"


def test_duplicate_key():
    df = pd.concat([konk25(), konk25().iloc[[7]]], ignore_index=True)
    fails = validate(KONK, df)
    assert checks(fails) == {"multiple_fields_uniqueness"}
    assert {f["index"] for f in fails} == {7, len(df) - 1}
    assert "multiple_fields_uniqueness" in summarize_failures("konk25_raw[2024M01]", fails)


def test_negative_count_and_suppression_mismatch():
    df = konk25()
    df.loc[2, "bankruptcies"] = -1
    df.loc[3, "bankruptcies"] = pd.NA  # missing but not flagged suppressed
    fails = validate(KONK, df)
    assert {(f["check"], f["index"]) for f in fails} == {
        ("greater_than_or_equal_to(0)", 2),
        ("bankruptcies_missing_iff_suppressed", 3),
    }
    df.loc[3, "suppressed"] = True
    df.loc[2, "bankruptcies"] = 1
    assert validate(KONK, df) == []


def test_wrong_period():
    df = konk25()
    df.loc[0, "period"] = "2024M02"
    (f,) = validate(KONK, df)
    assert f["column"] == "period" and f["index"] == 0
    bad = demo14()
    bad.loc[1, "value"] = 2.5  # an OPH count with a fraction
    assert {f["check"] for f in validate(demo14_raw_schema("2021"), bad)} == {
        "equal_to(2021)",
        "counts_are_whole_numbers",
    }


def test_missing_column():
    fails = validate(KONK, konk25().drop(columns="virktyp1"))
    assert any(f["check"] == "column_in_dataframe" and f["column"] == "virktyp1" for f in fails)


def test_panel_score_out_of_range_and_conditional_missing():
    p = panel()
    assert p["balance"].notna().all() and p["score"].isna().all()  # one quarter: balances, no history yet
    p.loc[4, "score"] = 1.2
    p.loc[3, "score"] = 1.0  # the +½ terms keep a score strictly inside (0, 1)
    p.loc[6, "births"] = np.nan  # births missing although provenance says published
    fails = validate(PANEL_SCHEMA, p)
    assert {("in_range(0.0, 1.0)", 4), ("in_range(0.0, 1.0)", 3)} <= {(f["check"], f["index"]) for f in fails}
    bad = {f["check"] for f in fails if f["index"] == 6}
    assert "births_missing_iff_unavailable" in bad
    assert next(f for f in fails if f["index"] == 4)["key"] == {"sector": 5, "quarter": "2022Q1"}
    p2 = panel().iloc[1:]
    assert "ten_sectors_per_quarter" in checks(validate(PANEL_SCHEMA, p2))
    p3 = panel()
    p3.loc[0, "sector"] = 11
    assert "isin([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])" in checks(validate(PANEL_SCHEMA, p3))


def test_panel_never_scores_a_nowcast():
    p = panel()
    p.loc[2, "births_provenance"] = "nowcast"  # a nowcast row that kept its balance
    p.loc[5, ["balance", "score"]] = [np.nan, 0.5]  # a score without a balance
    p.loc[7, "births_source_year"] = pd.NA  # published births must name their year
    p.loc[8, "births_provenance"] = "guess"
    fails = validate(PANEL_SCHEMA, p)
    assert {(f["check"], f["index"]) for f in fails} == {
        ("score_only_with_published_inputs", 2),
        ("score_only_with_published_inputs", 5),
        ("source_year_missing_iff_unavailable", 7),
        ("isin(['published', 'nowcast', 'unavailable'])", 8),
        ("score_only_with_published_inputs", 8),  # 'guess' is not published either: its balance goes too
    }
    assert next(f for f in fails if f["index"] == 2)["key"] == {"sector": 3, "quarter": "2022Q1"}
    ok = panel()
    ok.loc[2, ["births_provenance", "balance", "score"]] = ["nowcast", np.nan, np.nan]
    assert validate(PANEL_SCHEMA, ok) == []


def features_frame() -> pd.DataFrame:
    """A real feature frame: two years of panel, the rows of 2021Q3 and 2021Q4."""
    rows = [
        {"sector": s, "quarter": q, "bankruptcies": 3 + s + i % 4, "births": 100.0 * s,
         "births_provenance": "published"}
        for i, q in enumerate(quarter_range("2019Q1", "2022Q1"))
        for s in range(1, 11)
    ]
    p = pd.DataFrame(rows).astype({"bankruptcies": "Int64"})
    return build_features(p, ["2021Q3", "2021Q4"])


def test_feature_schema_rejects_bad_rows():
    f = features_frame()
    assert validate(FEATURE_SCHEMA, f) == []
    f.loc[0, "quarter_of_year"] = 3  # 2021Q3 forecasts 2021Q4: the season must be 4
    f.loc[1, "target_quarter"] = "2022Q4"  # a Q4 but a year too late
    f.loc[2, "log_lag0"] += 0.1
    f.loc[3, "target"] = -1.0
    f.loc[4, "bankruptcy_share"] = 1.5
    f.loc[5, "log_std_8q"] = -0.2
    f.loc[6, "quarter"] = "2021K3"
    fails = validate(FEATURE_SCHEMA, f)
    found = {(f["check"], f["index"]) for f in fails}
    assert {
        ("quarter_of_year_is_the_targets", 0),
        ("target_is_next_quarter", 1),
        ("log_lag0_definition", 2),
        ("greater_than_or_equal_to(0)", 3),
        ("in_range(0.0, 1.0)", 4),
        ("greater_than_or_equal_to(0)", 5),
        (f"str_matches('{QUARTER_REGEX}')", 6),
    } <= found
    assert {i for _, i in found} == set(range(7))  # the good rows are not blamed
    assert next(f for f in fails if f["index"] == 0)["key"] == {"sector": 1, "quarter": "2021Q3"}
    summary = summarize_failures("feature_frame", fails)
    assert summary.startswith("feature_frame: ") and "quarter_of_year_is_the_targets" in summary


def predictions() -> pd.DataFrame:
    return pd.DataFrame({
        "model": ["glm"] * 2, "sector": [1, 2], "origin": ["2022Q4"] * 2, "target_quarter": ["2023Q1"] * 2,
        "prediction": [12.5, 0.0], "actual": [np.nan, 3.0], "current": [10.0, 2.0], "scale": [2.0, 1.0],
    })[BACKTEST_COLUMNS]


def test_prediction_schema_rejects_bad_rows():
    assert validate(PREDICTIONS_SCHEMA, predictions()) == []
    p = predictions()
    p.loc[0, "target_quarter"] = "2023Q2"
    p.loc[1, "prediction"] = -0.5  # a count's mean cannot be negative
    p.loc[1, "scale"] = 0.0  # MASE would divide by it
    assert {(f["check"], f["index"]) for f in validate(PREDICTIONS_SCHEMA, p)} == {
        ("target_is_origin_plus_horizon", 0),
        ("greater_than_or_equal_to(0)", 1),
        ("greater_than(0)", 1),
    }
    missing = predictions()
    missing.loc[0, "prediction"] = np.nan  # a forecast a baseline could not make: allowed, reported, never filled
    assert validate(PREDICTIONS_SCHEMA, missing) == []
    missing.loc[0, "scale"] = np.nan  # but every row needs its MASE scale
    assert checks(validate(PREDICTIONS_SCHEMA, missing)) == {"not_nullable"}
    twice = pd.concat([predictions(), predictions().iloc[[1]]], ignore_index=True)
    fails = validate(PREDICTIONS_SCHEMA, twice)
    assert checks(fails) == {"multiple_fields_uniqueness"}
    assert {f["index"] for f in fails} == {1, 2}


def test_gate_and_leaderboard_schemas():
    gate = pd.DataFrame({"champion": ["glm", "naive", "glm", "glm"],
                         "baseline": ["mean_4q", "naive", "theta", "naive"], "pvalue": [0.03, 0.40, 0.25, 0.04],
                         "pvalue_holm": [0.09, 0.80, 0.50, 0.12], "promoted": [True, False, False, True],
                         "alpha": 0.10})
    fails = validate(GATE_SCHEMA, gate)
    # row 2: not promoted (p = 0.25), yet the champion is not the baseline; row 3: promoted on a raw p of 0.04
    # whose Holm-adjusted p (0.12) is not below alpha
    assert {(f["check"], f["index"]) for f in fails} == {("baseline_unless_promoted", 2),
                                                          ("promoted_only_on_evidence", 3)}
    bad_baseline = gate.iloc[:1].assign(baseline="glm")
    assert checks(validate(GATE_SCHEMA, bad_baseline)) == {
        "isin(['naive', 'seasonal_naive', 'mean_4q', 'theta'])"}
    board = pd.DataFrame({"model": ["glm", "glm"], "target": ["bankruptcies", "score"], "n": [550, 300],
                          "mae": [3.1, 0.2], "mase": [0.8, 0.9], "coverage80": [0.81, 0.79],
                          "coverage95": [0.95, 0.96], "interval_score": [4.0, 2.0]})
    assert validate(LEADERBOARD_SCHEMA, board) == []
    board.loc[1, "coverage80"] = 1.2
    board.loc[0, "target"] = "births"
    assert {(f["check"], f["index"]) for f in validate(LEADERBOARD_SCHEMA, board)} == {
        ("in_range(0.0, 1.0)", 1), ("isin(['bankruptcies', 'score'])", 0)}


def test_forecast_intervals_must_nest():
    fc = pd.DataFrame({
        "sector": [1, 2, 3], "quarter": ["2025Q1"] * 3, "prediction": [10.0, 5.0, 4.0],
        "lower80": [7.0, 3.0, 2.0], "upper80": [13.0, 8.0, 6.0], "lower95": [5.0, 2.0, 0.0],
        "upper95": [16.0, 10.0, np.inf],  # no calibration: an honest +inf, not a clipped bound
        "score_prediction": [0.5, np.nan, 0.6], "score_lower80": [0.3, np.nan, 0.4],
        "score_upper80": [0.7, np.nan, 0.8], "score_lower95": [0.2, np.nan, 0.3],
        "score_upper95": [0.8, np.nan, 0.9], "model": "glm", "data_source": "synthetic",
    })
    assert validate(FORECASTS_SCHEMA, fc) == []
    fc.loc[0, "lower80"] = 11.0  # above the point forecast
    fc.loc[2, "score_upper95"] = 0.75  # the 95 % interval inside the 80 % one
    fails = validate(FORECASTS_SCHEMA, fc)
    assert {(f["check"], f["index"]) for f in fails} == {("nested_intervals", 0), ("nested_score_intervals", 2)}
    assert next(f for f in fails if f["index"] == 0)["key"] == {"sector": 1, "quarter": "2025Q1"}
