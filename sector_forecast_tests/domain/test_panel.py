"""Panel aggregation: three-month sums, suppression, nested groups, births spreading and nowcasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts.inputs import PANEL_SCHEMA
from sector_forecast.contracts.validation import validate
from sector_forecast.domain.panel import (
    BASE_COLUMNS,
    PANEL_COLUMNS,
    build_panel,
    konk_divergence,
    quarter_label,
    quarter_months,
    quarter_of_year,
    quarter_offset,
    quarter_year,
    quarterly_bankruptcies,
    quarterly_births,
)
from sector_forecast.domain.periods import quarter_range
from sector_forecast.domain.score import SCORE_MIN_HISTORY, panel_scores
from sector_forecast.domain.sectors import (
    KONK4_BRANCHE_CODES,
    KONK4_TO_SECTOR,
    KONK25_BRANCHE25_CODES,
    KONK25_TO_SECTOR,
)


def konk_month(period: str, codes=KONK25_BRANCHE25_CODES, col="branche25", value=2) -> pd.DataFrame:
    rows = [
        {
            col: c,
            "virktyp1": v,
            "period": period,
            "bankruptcies": value * (3 if v == "K01" else 1),
            "suppressed": False,
        }
        for c in codes
        for v in ("K01", "K02", "K03")
    ]
    return pd.DataFrame(rows).astype({"bankruptcies": "Int64"})


def demo_year(year: int, nye: dict[int, float]) -> pd.DataFrame:
    rows = [
        {
            "region": r,
            "branchedb0710": str(s),
            "maengde4": m,
            "period": str(year),
            "value": nye.get(s, 0.0) * (1 if r == "000" else 0.2) if m == "NYE" else 7.0,
            "suppressed": False,
        }
        for r in ("000", "081")
        for s in range(1, 11)
        for m in ("NYE", "OPH")
    ]
    return pd.DataFrame(rows)


def test_period_helpers():
    assert quarter_months("2024Q1") == ["2024M01", "2024M02", "2024M03"]
    assert quarter_months("2024Q4")[-1] == "2024M12"
    assert quarter_offset("2024Q1", -1) == "2023Q4"
    assert quarter_offset("2024Q4", 1) == "2025Q1"
    assert quarter_label(pd.Timestamp("2024-05-17")) == "2024Q2"
    assert quarter_label("2024M12") == "2024Q4"
    assert (quarter_year("2023Q3"), quarter_of_year("2023Q3")) == (2023, 3)
    with pytest.raises(ValueError):
        quarter_months("2024K1")


def test_sum_of_three_months_k02_only_and_no_nested_groups():
    months = [konk_month(m, value=i + 1) for i, m in enumerate(quarter_months("2024Q2"))]
    out = quarterly_bankruptcies(months, "branche25", KONK25_TO_SECTOR)
    assert list(out["sector"]) == list(range(1, 11))
    assert (out["quarter"] == "2024Q2").all()
    # K02 values 1+2+3; GHI is not topped up with G/G46/.../I56.
    assert (out["bankruptcies"] == 6).all()
    assert str(out["bankruptcies"].dtype) == "Int64"
    assert not out["bankruptcies_suppressed"].any()


def test_konk4_mapping_ignores_total_subgroups_and_not_stated():
    months = [konk_month(m, KONK4_BRANCHE_CODES, "branche") for m in quarter_months("2024Q1")]
    out = quarterly_bankruptcies(months, "branche", KONK4_TO_SECTOR)
    assert len(out) == 10 and (out["bankruptcies"] == 6).all()


def test_suppressed_month_gives_na_not_zero():
    months = [konk_month(m) for m in quarter_months("2024Q1")]
    m = months[1]
    m.loc[(m["branche25"] == "F") & (m["virktyp1"] == "K02"), ["bankruptcies", "suppressed"]] = [pd.NA, True]
    months[2] = months[2][months[2]["branche25"] != "JK"]  # a sector missing from a month
    out = quarterly_bankruptcies(months, "branche25", KONK25_TO_SECTOR).set_index("sector")
    assert out.loc[3, "bankruptcies"] is pd.NA and out.loc[3, "bankruptcies_suppressed"]
    assert out.loc[5, "bankruptcies"] is pd.NA and out.loc[5, "bankruptcies_suppressed"]
    assert out.loc[1, "bankruptcies"] == 6


def test_suppressed_flag_wins_over_a_stray_value():
    months = [konk_month(m) for m in quarter_months("2024Q1")]
    months[0].loc[months[0]["branche25"] == "A", "suppressed"] = True  # value 2 but flagged `..`
    out = quarterly_bankruptcies(months, "branche25", KONK25_TO_SECTOR).set_index("sector")
    assert out.loc[1, "bankruptcies"] is pd.NA


def test_missing_month_raises_naming_it():
    months = [konk_month("2026M10"), konk_month("2026M12")]
    with pytest.raises(ValueError, match="2026Q4 incomplete: month 2026M11 not published"):
        quarterly_bankruptcies(months, "branche25", KONK25_TO_SECTOR)
    with pytest.raises(ValueError, match="2026M11"):
        quarterly_bankruptcies(months + [konk_month("2027M01")], "branche25", KONK25_TO_SECTOR, "2026Q4")


def test_births_spread_over_quarters_not_copied():
    demo = {2021: demo_year(2021, {s: 400.0 + s for s in range(1, 11)})}
    out = quarterly_births(demo, "2021Q3").set_index("sector")
    assert out.loc[1, "births"] == pytest.approx(401 / 4)
    assert (out["births_provenance"] == "published").all()
    assert (out["births_source_year"] == 2021).all()
    yearly = sum(
        quarterly_births(demo, f"2021Q{i}").set_index("sector").loc[2, "births"] for i in range(1, 5)
    )
    assert yearly == pytest.approx(402)


def test_nowcast_uses_last_published_years_only():
    demo = {
        2019: demo_year(2019, {s: 100.0 for s in range(1, 11)}),
        2020: demo_year(2020, {s: 200.0 for s in range(1, 11)}),
        2021: demo_year(2021, {s: 300.0 for s in range(1, 11)}),
        2022: demo_year(2022, {s: 400.0 for s in range(1, 11)}),
        2024: None,
        2025: demo_year(2025, {s: 9999.0 for s in range(1, 11)}),  # after the quarter: never used
    }
    out = quarterly_births(demo, "2024Q2", nowcast_years=3)
    assert (out["births_provenance"] == "nowcast").all()
    assert out["births"].iloc[0] == pytest.approx((200 + 300 + 400) / 3 / 4)
    assert (out["births_source_year"] == 2022).all()


def test_suppressed_sector_is_nowcast_and_unavailable_before_2019():
    y21 = demo_year(2021, {s: 80.0 for s in range(1, 11)})
    y22 = demo_year(2022, {s: 40.0 for s in range(1, 11)})
    hit = (y22["region"] == "000") & (y22["branchedb0710"] == "6") & (y22["maengde4"] == "NYE")
    y22.loc[hit, ["value", "suppressed"]] = [float("nan"), True]
    out = quarterly_births({2021: y21, 2022: y22}, "2022Q1").set_index("sector")
    assert out.loc[6, "births_provenance"] == "nowcast" and out.loc[6, "births"] == 20.0
    assert out.loc[5, "births_provenance"] == "published" and out.loc[5, "births"] == 10.0
    early = quarterly_births({2021: y21}, "2018Q4")
    assert early["births"].isna().all() and (early["births_provenance"] == "unavailable").all()
    assert early["births_source_year"].isna().all()


def test_build_panel_and_divergence():
    quarters = ["2024Q1", "2024Q2"]
    k25 = pd.concat(
        [
            quarterly_bankruptcies([konk_month(m) for m in quarter_months(q)], "branche25", KONK25_TO_SECTOR)
            for q in quarters
        ]
    )
    k4 = quarterly_bankruptcies(
        [konk_month(m, KONK4_BRANCHE_CODES, "branche", 3) for m in quarter_months("2024Q1")],
        "branche",
        KONK4_TO_SECTOR,
    )
    demo = {2024: demo_year(2024, {s: 40.0 for s in range(1, 11)})}
    births = pd.concat([quarterly_births(demo, q) for q in quarters])
    panel = build_panel(k25, births, k4)
    assert len(panel) == 20 and list(panel.columns) == BASE_COLUMNS  # no score: it needs a history
    assert list(panel["quarter"]) == sorted(panel["quarter"])
    scored = panel_scores(panel)
    assert list(scored.columns) == PANEL_COLUMNS
    row = scored.iloc[0]
    # births 40/4 = 10, bankruptcies 2+2+2 = 6: the quarter's own entry share (10+1)/(10+6+2)
    assert row["entry_share"] == pytest.approx((10 + 1) / (10 + 6 + 2))
    # a balance sums four quarters and a score needs eight earlier balances: two quarters give neither
    assert scored[["balance", "score"]].isna().all().all()
    assert panel.loc[panel["quarter"] == "2024Q2", "bankruptcies_konk4"].isna().all()
    div = konk_divergence(panel).set_index("sector")
    assert div.loc[1, "n_quarters"] == 1 and div.loc[1, "sum_konk4"] == 9 and div.loc[1, "sum_konk25"] == 6
    assert div.loc[1, "mean_abs_diff"] == 3 and div.loc[1, "relative_divergence"] == pytest.approx(-1 / 3)
    with pytest.raises(ValueError, match="births missing"):
        build_panel(k25, births[births["quarter"] == "2024Q1"], None)


def test_build_panel_needs_all_ten_sectors():
    k25 = quarterly_bankruptcies([konk_month(m) for m in quarter_months("2024Q1")], "branche25", KONK25_TO_SECTOR)
    births = quarterly_births({2024: demo_year(2024, {s: 40.0 for s in range(1, 11)})}, "2024Q1")
    with pytest.raises(ValueError, match="without all ten sectors: \\['2024Q1'\\]"):
        build_panel(k25[k25["sector"] != 7], births, None)


def test_scores_only_on_published_births_and_konk4_never_enters():
    """Four years through build_panel → panel_scores: 2021–2023 published, 2024 a nowcast."""
    quarters = quarter_range("2021Q1", "2024Q4")
    demo = {y: demo_year(y, {s: 100.0 * s + y - 2021 for s in range(1, 11)}) for y in (2021, 2022, 2023)}
    k25 = pd.concat(
        quarterly_bankruptcies([konk_month(m, value=1 + i % 3) for m in quarter_months(q)], "branche25",
                               KONK25_TO_SECTOR)
        for i, q in enumerate(quarters)
    )
    births = pd.concat([quarterly_births(demo, q) for q in quarters])
    panel = panel_scores(build_panel(k25, births, None))
    assert validate(PANEL_SCHEMA, panel) == []
    nowcast = panel["births_provenance"] == "nowcast"
    assert set(panel.loc[nowcast, "quarter"]) == set(quarter_range("2024Q1", "2024Q4"))
    # The nowcast keeps its descriptive entry share but never gets a balance or a score.
    assert panel.loc[nowcast, "entry_share"].notna().all()
    assert panel.loc[nowcast, ["balance", "score"]].isna().all().all()
    # A balance needs four published quarters: the first is 2021Q4. A score needs SCORE_MIN_HISTORY = 8
    # earlier balances (2021Q4–2023Q3): the first is 2023Q4, and 2024 is a nowcast, so only 2023Q4 is scored.
    assert SCORE_MIN_HISTORY == 8
    assert set(panel.loc[panel["score"].notna(), "quarter"]) == {"2023Q4"}
    has_balance = panel["quarter"].between("2021Q4", "2023Q4")
    assert panel.loc[has_balance, "balance"].notna().all() and panel.loc[~has_balance, "balance"].isna().all()
    # Sector 1 in 2022Q1: births 2021 = 100 → 25 a quarter, 2022 = 101 → 25.25, so the four quarters hold
    # 3·25 + 25.25 = 100.25; bankruptcies of quarter i are 3·(1 + i % 3): 2021Q2..2022Q1 = 6 + 9 + 3 + 6 = 24.
    row = panel.set_index(["sector", "quarter"]).loc[(1, "2022Q1")]
    assert row["balance"] == pytest.approx(np.log((100.25 + 1) / (24 + 1)))
    k4 = pd.concat(
        quarterly_bankruptcies([konk_month(m, KONK4_BRANCHE_CODES, "branche", 9) for m in quarter_months(q)],
                               "branche", KONK4_TO_SECTOR)
        for q in quarters
    )
    with_k4 = panel_scores(build_panel(k25, births, k4))
    assert (with_k4["bankruptcies_konk4"] == 27).all()
    cols = [c for c in PANEL_COLUMNS if c != "bankruptcies_konk4"]
    pd.testing.assert_frame_equal(with_k4[cols], panel[cols])
