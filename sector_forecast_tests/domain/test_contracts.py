"""Contracts: valid frames pass; each kind of bad input yields failure cases naming the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.domain.contracts import (
    FEATURE_SCHEMA,
    PANEL_SCHEMA,
    PREDICTIONS_SCHEMA,
    demo14_raw_schema,
    konk_raw_schema,
    summarize_failures,
    validate,
)
from sector_forecast.domain.panel import build_panel, quarterly_births
from sector_forecast.domain.sectors import KONK4_BRANCHE_CODES, KONK25_BRANCHE25_CODES

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


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
    bank = pd.DataFrame(
        {
            "sector": range(1, 11),
            "quarter": "2022Q1",
            "bankruptcies": pd.array(range(10), dtype="Int64"),
            "bankruptcies_suppressed": False,
        }
    )
    return build_panel(bank, quarterly_births({2022: demo14()}, "2022Q1"), None)


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
    p.loc[4, "score"] = 1.2
    p.loc[6, "births"] = np.nan  # births missing although provenance says published
    fails = validate(PANEL_SCHEMA, p)
    assert ("in_range(0.0, 1.0)", 4) in {(f["check"], f["index"]) for f in fails}
    bad = {f["check"] for f in fails if f["index"] == 6}
    assert "births_missing_iff_unavailable" in bad
    assert next(f for f in fails if f["index"] == 4)["key"] == {"sector": 5, "quarter": "2022Q1"}
    p2 = panel().iloc[1:]
    assert "ten_sectors_per_quarter" in checks(validate(PANEL_SCHEMA, p2))
    p3 = panel()
    p3.loc[0, "sector"] = 11
    assert "isin([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])" in checks(validate(PANEL_SCHEMA, p3))


def test_feature_and_prediction_schemas_reject_bad_rows():
    f = pd.DataFrame({c: [0.5] for c in FEATURE_SCHEMA.columns})
    f = f.astype({"sector": "int64", "quarter_of_year": "int64", "births_nowcast": "int64"})
    f["quarter"], f["quarter_of_year"], f["sector"], f["births_nowcast"] = "2022Q3", 2, 3, 0
    f["momentum"] = np.nan
    assert checks(validate(FEATURE_SCHEMA, f)) == {"quarter_of_year_matches_quarter"}
    p = pd.DataFrame(
        {
            "model": ["ridge"],
            "sector": [1],
            "quarter": ["2022Q4"],
            "origin": ["2022Q4"],
            "target_quarter": ["2023Q1"],
            "prediction": [0.5],
            "lower": [0.4],
            "upper": [0.6],
            "actual": [np.nan],
            "current_score": [0.5],
        }
    )
    assert validate(PREDICTIONS_SCHEMA, p) == []
    p.loc[0, "target_quarter"] = "2023Q2"
    p.loc[0, "lower"] = 0.55
    assert checks(validate(PREDICTIONS_SCHEMA, p)) == {
        "target_is_next_quarter",
        "interval_contains_prediction",
    }
