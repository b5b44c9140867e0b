"""Seeded, deterministic reconstruction of the bundled snapshot from the few real DST figures we have.

Only fragments of KONK4/KONK25/DEMO14 are public offline (see data/README.md). This module keeps every exact
figure exactly, uses chart-digitized figures as they are, and fills the rest with a documented generator
(numpy `default_rng(seed)`), writing `provenance.csv` to say which cell is which. Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sector_forecast.statbank.server.synth import VALUE, apply_hierarchy, rng_for, synth_period, to_cells
from sector_forecast.statbank.server.tables import period_range
from sector_forecast.statbank.snapshot import TableState
from snapshot_tools import catalog, demo14

MONTHS = period_range("2009M01", "2025M12")
KONK25_LAST = "2026M09"
UPDATED = {"KONK4": "2026-01-07T08:00:00", "KONK25": "2026-10-07T08:00:00", "DEMO14": "2025-06-13T08:00:00"}
SECTORS = [str(s) for s in range(1, 11)]

# Shares of the active-company (K02) bankruptcies of sectors 1-10, linearly interpolated from 2009 (the
# construction crash) to 2025 (trade and transport dominant). Calibrated on the exact Dec-2025 KONK4 column
# (sectors 2,3,4,7,8,10 = 148 of 155) and on the sector-1 samples (~5 a month in 2009).
SHARES_2009 = {
    "1": 0.02,
    "2": 0.11,
    "3": 0.24,
    "4": 0.30,
    "5": 0.05,
    "6": 0.03,
    "7": 0.05,
    "8": 0.13,
    "9": 0.02,
    "10": 0.05,
}
SHARES_2025 = {
    "1": 0.025,
    "2": 0.085,
    "3": 0.19,
    "4": 0.37,
    "5": 0.055,
    "6": 0.025,
    "7": 0.03,
    "8": 0.155,
    "9": 0.02,
    "10": 0.045,
}
SUBSHARES = {
    "4": {"G": 0.45, "H": 0.22, "I": 0.33},
    "G": {"G01": 0.17, "G02": 0.33, "G03": 0.50},
    "I": {"101": 0.12, "102": 0.88},
}
# Zero-enterprise (K03) bankruptcies per active-company (K02) bankruptcy, by leaf; sector 11 (activity not
# stated) is mostly zero enterprises. K02 of sector 11 is Poisson(2) a month.
K03_RATIO = {
    "1": 0.6,
    "2": 0.7,
    "3": 0.9,
    "G01": 1.0,
    "G02": 1.0,
    "G03": 0.9,
    "H": 0.8,
    "101": 0.8,
    "102": 0.9,
    "5": 1.3,
    "6": 2.5,
    "7": 1.8,
    "8": 1.1,
    "9": 0.8,
    "10": 1.2,
    "11": 15.0,
}
# KONK4 -> KONK25 reclassification (DB07 -> DB25), applied as binomial thinning of each KONK4 leaf:
G01_TO_STUV, G01_REST_TO_G46, F_TO_M = 0.6, 0.5, 0.06
# Dec 2025 fixed cells chosen so that both exact columns hold: G01=6, G02=6; 4 of G01 -> STUV, 2 -> G47,
# 2 of construction -> M (real estate: NACE 2.1 moved property development there).
DEC25 = {"2": 14, "3": 29, "4": 64, "7": 3, "8": 30, "10": 8, "G": 28, "H": 14, "G03": 16, "G01": 6}
DEC25_MOVES = {"G01_TO_STUV": 4, "G01_REST_TO_G46": 0, "F_TO_M": 2}
SUPPRESSED_I55 = ("2009M02", "2009M05")
SYN = "seeded generator, see data/README.md"


def read_real(real_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(real_dir / name, dtype=str, keep_default_na=False)


def _split(
    rng: np.random.Generator, total: int, shares: dict[str, float], fixed: dict[str, int]
) -> dict[str, int]:
    """Split `total` over the keys of `shares`: fixed cells kept, the rest multinomial, exact sum."""
    free = [k for k in shares if k not in fixed]
    rest = total - sum(fixed.get(k, 0) for k in shares)
    if rest < 0 or (rest > 0 and not free):
        raise ValueError(f"cannot split {total} with fixed cells {fixed}")
    out = {k: int(v) for k, v in fixed.items() if k in shares}
    if free:
        p = np.array([shares[k] for k in free])
        out.update(zip(free, (int(x) for x in rng.multinomial(rest, p / p.sum())), strict=True))
    return out


def _sector1_fixed(samples: pd.DataFrame, totals: dict[str, int], rng: np.random.Generator) -> dict[str, int]:
    """Sector-1 months: exact monthly samples, and the exact quarter sums spread over their other months."""
    fixed = {r.period: int(r.bankruptcies) for r in samples.itertuples() if r.freq == "month"}
    for r in samples[samples.freq == "quarter"].itertuples():
        year, q = r.period[:4], int(r.period[-1])
        months = [f"{year}M{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
        weights = {m: float(totals[m]) for m in months}
        fixed.update(_split(rng, int(r.bankruptcies), weights, {m: fixed[m] for m in months if m in fixed}))
    return fixed


def konk4_leaves(real_dir: Path, seed: int) -> pd.DataFrame:
    """KONK4 leaf cells (BRANCHE leaf x K02/K03 x month), numeric."""
    digitized = read_real(real_dir, "konk4_k02_sum_sectors1to10_monthly_digitized.csv")
    totals = dict(zip(digitized.period, digitized.bankruptcies_k02_sum_sectors_1_10.astype(int), strict=True))
    if list(totals) != MONTHS:
        raise ValueError("KONK4: digitized monthly totals do not cover 2009M01-2025M12")
    rng = rng_for(seed, "KONK4")
    s1 = _sector1_fixed(read_real(real_dir, "konk4_k02_sector1_samples.csv"), totals, rng)
    rows: list[tuple[str, str, str, float]] = []
    for i, month in enumerate(MONTHS):
        w = i / (len(MONTHS) - 1)
        shares = {s: (1 - w) * SHARES_2009[s] + w * SHARES_2025[s] for s in SECTORS}
        fixed = dict(DEC25) if month == "2025M12" else {}
        if month in s1:
            fixed["1"] = s1[month]
        cells = _split(rng, totals[month], shares, fixed)
        cells |= _split(rng, cells["4"], SUBSHARES["4"], fixed)
        cells |= _split(rng, cells["G"], SUBSHARES["G"], fixed)
        cells |= _split(rng, cells["I"], SUBSHARES["I"], fixed)
        cells["11"] = int(rng.poisson(2.0))
        rows += [(code, "K02", month, float(cells[code])) for code in K03_RATIO]
    k02 = pd.DataFrame(rows, columns=["BRANCHE", "VIRKTYP1", "TID", VALUE])
    smooth = k02.groupby("BRANCHE")[VALUE].transform(
        lambda s: s.rolling(12, center=True, min_periods=1).mean()
    )
    lam = smooth.to_numpy() * k02["BRANCHE"].map(K03_RATIO).to_numpy()
    k03 = k02.assign(VIRKTYP1="K03", **{VALUE: rng.poisson(lam).astype(float)})
    return pd.concat([k02, k03], ignore_index=True)


def konk25_leaves(k4: pd.DataFrame, seed: int) -> pd.DataFrame:
    """KONK25 leaves 2009M01-2025M12 from KONK4 leaves through the documented reclassification."""
    rng = rng_for(seed, "KONK25")
    wide = k4.pivot_table(index=["VIRKTYP1", "TID"], columns="BRANCHE", values=VALUE, aggfunc="sum")
    g01 = wide["G01"].astype(int).to_numpy()
    moves = {"G01_TO_STUV": rng.binomial(g01, G01_TO_STUV)}
    moves["G01_REST_TO_G46"] = rng.binomial(g01 - moves["G01_TO_STUV"], G01_REST_TO_G46)
    moves["F_TO_M"] = rng.binomial(wide["3"].astype(int).to_numpy(), F_TO_M)
    dec = (wide.index.get_level_values("VIRKTYP1") == "K02") & (
        wide.index.get_level_values("TID") == "2025M12"
    )
    for key, value in DEC25_MOVES.items():
        moves[key][dec] = value
    rest = g01 - moves["G01_TO_STUV"]
    out = pd.DataFrame(
        {
            "A": wide["1"],
            "BCDE": wide["2"],
            "F": wide["3"] - moves["F_TO_M"],
            "G46": wide["G02"] + moves["G01_REST_TO_G46"],
            "G47": wide["G03"] + rest - moves["G01_REST_TO_G46"],
            "H": wide["H"],
            "I55": wide["101"],
            "I56": wide["102"],
            "JK": wide["5"],
            "L": wide["6"],
            "M": wide["7"] + moves["F_TO_M"],
            "NO": wide["8"],
            "PQR": wide["9"],
            "STUV": wide["10"] + moves["G01_TO_STUV"],
        },
        index=wide.index,
    )
    out.columns.name = "BRANCHE25"
    long = out.stack().rename(VALUE).reset_index()
    return long[["BRANCHE25", "VIRKTYP1", "TID", VALUE]].astype({VALUE: float})


def _table(table: str, cells: pd.DataFrame, updated: str, active: bool, footnote: str) -> TableState:
    periods = sorted(cells["TID"].unique())
    info = catalog.build_info(table, periods, updated, active, footnote)
    state = TableState(meta=catalog.build_meta(info), info=info, data=cells)
    state.sort()
    return state


FOOTNOTE = "RECONSTRUCTED OFFLINE SNAPSHOT, not a DST download: see data/README.md and provenance.csv."


def build_tables(real_dir: Path, seed: int) -> list[TableState]:
    real_dir = Path(real_dir)
    k4_leaves = konk4_leaves(real_dir, seed)
    k4 = to_cells(apply_hierarchy("KONK4", k4_leaves, ["BRANCHE", "VIRKTYP1"]), ["BRANCHE", "VIRKTYP1"])
    konk4 = _table("KONK4", k4, UPDATED["KONK4"], False, FOOTNOTE + " Discontinued, replaced by KONK25.")
    cols25 = ["BRANCHE25", "VIRKTYP1"]
    k25 = to_cells(apply_hierarchy("KONK25", konk25_leaves(k4_leaves, seed), cols25), cols25)
    for period in period_range("2026M01", KONK25_LAST):
        k25 = pd.concat([k25, synth_period("KONK25", k25, period, seed)], ignore_index=True)
    k25.loc[(k25["BRANCHE25"] == "I55") & k25["TID"].isin(SUPPRESSED_I55), "INDHOLD"] = ".."
    konk25 = _table("KONK25", k25, UPDATED["KONK25"], True, FOOTNOTE)
    d14 = _table("DEMO14", demo14.build_cells(real_dir, seed), UPDATED["DEMO14"], True, FOOTNOTE)
    return [konk4, konk25, d14]
