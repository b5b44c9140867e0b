"""The quarterly sector panel: bankruptcies and births per (sector, quarter), with provenance and score.

Rules this module enforces (each one a mistake of the reference design):
- DST's suppressed cells (``..``) stay missing: a quarter with any suppressed or absent month is <NA>.
- Sub-groups nested inside sector 4 (KONK4 G..102, KONK25 G..I56) are never added: only mapped codes count.
- DEMO14's annual births are spread evenly (/4) over the year's quarters, never copied into each quarter.
- A DEMO14 year that is not published yet is never used; its quarters get a flagged nowcast instead.
"""

from __future__ import annotations

import pandas as pd

from sector_forecast.domain.periods import (
    month_quarter,
    quarter_label,
    quarter_months,
    quarter_of_year,
    quarter_offset,
    quarter_range,
    quarter_year,
)
from sector_forecast.domain.sectors import ACTIVE_ENTERPRISES, SECTOR_CODES

__all__ = [
    "BIRTHS_PROVENANCE",
    "PANEL_COLUMNS",
    "build_panel",
    "konk_divergence",
    "quarter_label",
    "quarter_months",
    "quarter_of_year",
    "quarter_offset",
    "quarter_range",
    "quarter_year",
    "quarterly_births",
    "quarterly_bankruptcies",
]

PANEL_COLUMNS: list[str] = [
    "sector", "quarter", "bankruptcies", "bankruptcies_suppressed", "bankruptcies_konk4",
    "births", "births_provenance", "births_source_year", "entry_share", "balance", "score",
]
# The columns `build_panel` makes; `score.panel_scores` adds the rest from a multi-quarter history.
BASE_COLUMNS: list[str] = PANEL_COLUMNS[:-3]
BIRTHS_PROVENANCE: tuple[str, ...] = ("published", "nowcast", "unavailable")


def quarterly_bankruptcies(
    months: list[pd.DataFrame], code_col: str, mapping: dict[str, int], quarter: str | None = None
) -> pd.DataFrame:
    """Sum K02 bankruptcies over each quarter's three months, per sector 1–10.

    ``months`` are month partitions (any order). With ``quarter`` given, only that quarter is built and its
    three months must be present; otherwise every quarter touched by the input must be complete. A month
    counts as present when it has at least one row; a sector missing from a present month is treated as
    suppressed. Output: sector, quarter, bankruptcies (Int64, <NA> if any month suppressed/missing),
    bankruptcies_suppressed (bool).
    """
    frames = [m for m in months if m is not None and len(m)]
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[code_col, "period"])
    present = set(raw["period"].astype(str))
    quarters = [quarter] if quarter else sorted({month_quarter(p) for p in present})
    if not quarters:
        raise ValueError("no months given: cannot build a quarter")
    for q in quarters:
        missing = [m for m in quarter_months(q) if m not in present]
        if missing:
            raise ValueError(f"quarter {q} incomplete: month {', '.join(missing)} not published")

    wanted = [m for q in quarters for m in quarter_months(q)]
    keep = raw["virktyp1"].eq(ACTIVE_ENTERPRISES) & raw[code_col].isin(list(mapping))
    rows = raw[keep & raw["period"].isin(wanted)].copy()
    rows["sector"] = rows[code_col].map(mapping).astype(int)
    dupes = rows.duplicated(["sector", "period"], keep=False)
    if dupes.any():
        raise ValueError(f"duplicate {code_col} rows for {sorted(set(rows.loc[dupes, 'period']))}")
    # A suppressed cell is <NA> whatever the value column says, so `..` can never become 0.
    counts = rows["bankruptcies"].astype("Int64").mask(rows["suppressed"].astype(bool))
    grid = pd.MultiIndex.from_product([sorted(set(mapping.values())), wanted], names=["sector", "period"])
    monthly = pd.Series(counts.to_numpy(), index=pd.MultiIndex.from_frame(rows[["sector", "period"]]))
    monthly = monthly.reindex(grid).astype("Int64").reset_index(name="bankruptcies")
    monthly["quarter"] = monthly["period"].map(month_quarter)
    out = (
        monthly.groupby(["sector", "quarter"], sort=True)["bankruptcies"]
        .agg(lambda s: s.sum() if s.notna().all() else pd.NA)
        .astype("Int64")
        .reset_index()
    )
    out["bankruptcies_suppressed"] = out["bankruptcies"].isna()
    return out.sort_values(["quarter", "sector"], ignore_index=True)


def _nye_by_sector(frame: pd.DataFrame) -> pd.Series:
    """DEMO14 NYE for all Denmark (REGION 000), indexed by sector 1–10; NaN where suppressed."""
    rows = frame[
        (frame["region"] == "000")
        & (frame["maengde4"] == "NYE")
        & frame["branchedb0710"].isin([str(s) for s in SECTOR_CODES])
    ]
    values = rows["value"].astype("float64").mask(rows["suppressed"].astype(bool))
    series = pd.Series(values.to_numpy(), index=rows["branchedb0710"].astype(int).to_numpy())
    if series.index.duplicated().any():
        raise ValueError("DEMO14 frame has duplicate REGION 000 / NYE rows for a sector")
    return series.reindex(list(SECTOR_CODES))


def quarterly_births(
    demo14: dict[int, pd.DataFrame | None], quarter: str, nowcast_years: int = 3
) -> pd.DataFrame:
    """Births per sector for one quarter: DEMO14 NYE of its year / 4, a nowcast, or unavailable.

    ``demo14`` maps year → the published DEMO14 year frame (None or absent = not published *as of now*;
    the caller decides what is published). Nowcast = mean of the sector's last up-to-``nowcast_years``
    published years before the quarter's year, /4; ``births_source_year`` is the latest year used.
    """
    year = quarter_year(quarter)
    published = {y: _nye_by_sector(f) for y, f in demo14.items() if f is not None and len(f)}
    records = []
    for sector in SECTOR_CODES:
        own = published.get(year)
        if own is not None and pd.notna(own[sector]):
            records.append((sector, own[sector] / 4.0, "published", year))
            continue
        history = [(y, s[sector]) for y, s in sorted(published.items()) if y < year and pd.notna(s[sector])]
        history = history[-nowcast_years:]
        if history:
            mean = sum(v for _, v in history) / len(history)
            records.append((sector, mean / 4.0, "nowcast", history[-1][0]))
        else:
            records.append((sector, float("nan"), "unavailable", pd.NA))
    out = pd.DataFrame(records, columns=["sector", "births", "births_provenance", "births_source_year"])
    out.insert(1, "quarter", quarter)
    return out.astype({"births": "float64", "births_source_year": "Int64"})


def build_panel(
    bankruptcies: pd.DataFrame, births: pd.DataFrame, bankruptcies_konk4: pd.DataFrame | None
) -> pd.DataFrame:
    """Join KONK25 bankruptcies, births and (optionally) KONK4 into one quarter's panel rows.

    The score columns need the sector's trailing history: ``score.panel_scores`` adds them afterwards.

    KONK25 defines the quarters; births must cover every one of them (a silent gap would become a NaN
    score nobody asked for). KONK4 is kept only for the comparison check, never for the score.
    """
    spine = bankruptcies[["sector", "quarter", "bankruptcies", "bankruptcies_suppressed"]].copy()
    panel = spine.merge(
        births[["sector", "quarter", "births", "births_provenance", "births_source_year"]],
        on=["sector", "quarter"], how="left", validate="one_to_one", indicator=True,
    )
    missing = panel.loc[panel["_merge"] == "left_only", "quarter"].unique()
    if len(missing):
        raise ValueError(f"births missing for quarter(s) {sorted(missing)}")
    panel = panel.drop(columns="_merge")
    if bankruptcies_konk4 is not None and len(bankruptcies_konk4):
        konk4 = bankruptcies_konk4[["sector", "quarter", "bankruptcies"]].rename(
            columns={"bankruptcies": "bankruptcies_konk4"}
        )
        panel = panel.merge(konk4, on=["sector", "quarter"], how="left", validate="one_to_one")
    else:
        panel["bankruptcies_konk4"] = pd.NA
    panel = panel.astype(
        {
            "sector": "int64", "bankruptcies": "Int64", "bankruptcies_suppressed": "bool",
            "bankruptcies_konk4": "Int64", "births": "float64", "births_source_year": "Int64",
        }
    )
    sizes = panel.groupby("quarter")["sector"].nunique()
    if (sizes != len(SECTOR_CODES)).any():
        raise ValueError(f"panel quarters without all ten sectors: {sorted(sizes[sizes != 10].index)}")
    return panel[BASE_COLUMNS].sort_values(["quarter", "sector"], ignore_index=True)


def konk_divergence(panel: pd.DataFrame) -> pd.DataFrame:
    """KONK4 (DB07) vs KONK25 (DB25) per sector, over quarters where both are published.

    The classifications are not 1:1 (e.g. car trade moved from G to STUV), so a divergence is expected;
    the check reports its size. relative_divergence = (sum_konk25 - sum_konk4) / sum_konk4 (NaN if 0).
    """
    both = panel[panel["bankruptcies"].notna() & panel["bankruptcies_konk4"].notna()].copy()
    both["k25"] = both["bankruptcies"].astype("float64")
    both["k4"] = both["bankruptcies_konk4"].astype("float64")
    both["abs_diff"] = (both["k25"] - both["k4"]).abs()
    out = (
        both.groupby("sector")
        .agg(n_quarters=("quarter", "nunique"), sum_konk4=("k4", "sum"), sum_konk25=("k25", "sum"),
             mean_abs_diff=("abs_diff", "mean"))
        .reindex(list(SECTOR_CODES))
    )
    out["n_quarters"] = out["n_quarters"].fillna(0).astype(int)
    out[["sum_konk4", "sum_konk25"]] = out[["sum_konk4", "sum_konk25"]].fillna(0.0)
    denom = out["sum_konk4"].where(out["sum_konk4"] > 0)
    out["relative_divergence"] = (out["sum_konk25"] - out["sum_konk4"]) / denom
    return out.rename_axis("sector").reset_index()
