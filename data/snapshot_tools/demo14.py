"""DEMO14 (business demography) part of the snapshot reconstruction.

Real: NYE (new enterprises) for sectors 1-10 x 2019-2023 at REGION=000 (exact or chart-digitized), DST's
totals for 2021 and 2022, AFU (FTE in new enterprises) for the total and sectors 1-6 in 2021 and 2022.
Everything else is synthetic: sector 11 is the remainder of a real total (else Poisson(5)), OPH/OMS and
the other AFU cells are ratios to NYE with noise, regions 081-085 are a multinomial split of REGION=000.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sector_forecast.statbank.server.synth import VALUE, apply_hierarchy, rng_for, to_cells

YEARS = [str(y) for y in range(2019, 2024)]
SECTORS = [str(s) for s in range(1, 11)]
LEAVES = [*SECTORS, "11"]
COLUMNS = ["REGION", "BRANCHEDB0710", "MÆNGDE4"]
# Ceased enterprises per new enterprise, turnover (DKK m) per new enterprise, FTE per new enterprise for the
# sectors where no real AFU ratio is known (1-6 take theirs from the 2021/2022 DST figures).
OPH_RATIO = {
    "1": 0.8,
    "2": 1.0,
    "3": 0.9,
    "4": 1.05,
    "5": 0.85,
    "6": 0.7,
    "7": 0.75,
    "8": 0.85,
    "9": 0.7,
    "10": 0.9,
    "11": 1.0,
}
OMS_PER_NEW = {
    "1": 1.2,
    "2": 3.5,
    "3": 2.0,
    "4": 3.0,
    "5": 1.5,
    "6": 2.5,
    "7": 1.0,
    "8": 1.0,
    "9": 0.8,
    "10": 0.6,
    "11": 0.5,
}
AFU_RATIO_DEFAULT = {"7": 0.08, "8": 0.20, "9": 0.30, "10": 0.25, "11": 0.10}
REGION_SHARES = {"081": 0.10, "082": 0.23, "083": 0.20, "084": 0.33, "085": 0.14}


def _real(real_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    nye = pd.read_csv(real_dir / "demo14_nye_by_sector_2019_2023.csv", dtype=str, keep_default_na=False)
    nyt = pd.read_csv(real_dir / "demo14_dst_nyt49007_2021_2022.csv", dtype=str, keep_default_na=False)
    return nye, nyt


def _largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integers proportional to `weights` that sum exactly to `total`."""
    w = np.array(list(weights.values()), dtype=float)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return dict(zip(weights, (int(x) for x in out), strict=True))


def national_cells(real_dir: Path, seed: int) -> dict[tuple[str, str, str], int]:
    """REGION=000 leaf cells: (sector 1..11, measure, year) -> value."""
    nye_real, nyt = _real(real_dir)
    rng = rng_for(seed, "DEMO14")
    real = {(r.branchedb0710, r.year): r for r in nyt.itertuples()}
    ratio = {
        s: np.mean(
            [int(real[s, y].fte_in_new_firms_AFU) / int(real[s, y].new_firms_NYE) for y in ("2021", "2022")]
        )
        for s in SECTORS[:6]
    } | AFU_RATIO_DEFAULT
    cells: dict[tuple[str, str, str], int] = {}
    for r in nye_real.itertuples():
        cells[r.branchedb0710, "NYE", r.year] = int(r.value)
    for y in YEARS:
        known = sum(cells[s, "NYE", y] for s in SECTORS)
        cells["11", "NYE", y] = (
            int(real["TOT", y].new_firms_NYE) - known if ("TOT", y) in real else int(rng.poisson(5))
        )
        if ("TOT", y) in real:
            afu = {s: int(real[s, y].fte_in_new_firms_AFU) for s in SECTORS[:6]}
            rest = int(real["TOT", y].fte_in_new_firms_AFU) - sum(afu.values())
            afu |= _largest_remainder(rest, {s: cells[s, "NYE", y] * ratio[s] + 1e-9 for s in LEAVES[6:]})
        else:
            afu = {s: int(round(cells[s, "NYE", y] * ratio[s] * rng.lognormal(0, 0.05))) for s in LEAVES}
        for s in LEAVES:
            nye = cells[s, "NYE", y]
            cells[s, "AFU", y] = afu[s]
            cells[s, "OPH", y] = int(rng.poisson(nye * OPH_RATIO[s] * rng.lognormal(0, 0.05)))
            cells[s, "OMS", y] = int(round(nye * OMS_PER_NEW[s] * rng.lognormal(0, 0.08)))
    return cells


def build_cells(real_dir: Path, seed: int) -> pd.DataFrame:
    """All DEMO14 cells as BULK strings; regions sum to 000 and sectors to TOT exactly."""
    national = national_cells(Path(real_dir), seed)
    rng = rng_for(seed, "DEMO14", "regions")
    base = np.array(list(REGION_SHARES.values()))
    rows = []
    for (sector, measure, year), value in national.items():
        split = rng.multinomial(value, rng.dirichlet(400 * base))
        rows += [(reg, sector, measure, year, float(v)) for reg, v in zip(REGION_SHARES, split, strict=True)]
    leaves = pd.DataFrame(rows, columns=[*COLUMNS, "TID", VALUE])
    return to_cells(apply_hierarchy("DEMO14", leaves, COLUMNS), COLUMNS)


def provenance_rows(real_dir: Path) -> list[dict[str, str]]:
    nye_real, nyt = _real(Path(real_dir))
    rows = []
    for r in nye_real.itertuples():
        status = "real" if r.quality == "exact" else "approximate"
        rows.append(
            (
                "REGION=000;BRANCHEDB0710=" + r.branchedb0710 + ";MÆNGDE4=NYE",
                r.year,
                status,
                r.quality,
                r.source,
            )
        )
    src = nyt["source"].iloc[0]
    rows += [
        ("REGION=000;BRANCHEDB0710=TOT;MÆNGDE4=NYE,AFU", "2021,2022", "real", "exact", src),
        ("REGION=000;BRANCHEDB0710=1..6;MÆNGDE4=AFU", "2021,2022", "real", "exact", src),
        (
            "REGION=000;BRANCHEDB0710=11;MÆNGDE4=NYE",
            "2021,2022",
            "approximate",
            "real total minus the (partly digitized) sum of sectors 1-10",
            src,
        ),
        (
            "REGION=000;BRANCHEDB0710=7..11;MÆNGDE4=AFU",
            "2021,2022",
            "synthetic",
            "real total AFU minus real sectors 1-6, split by NYE x documented FTE ratio",
            "generator",
        ),
        (
            "REGION=000;BRANCHEDB0710=TOT,11;MÆNGDE4=NYE",
            "2019,2020,2023",
            "synthetic",
            "sector 11 Poisson(5); TOT = sum of sectors",
            "generator",
        ),
        (
            "REGION=000;MÆNGDE4=OPH,OMS and AFU not listed above",
            "2019-2023",
            "synthetic",
            "documented ratios to NYE with lognormal noise",
            "generator",
        ),
        (
            "REGION=081..085;all",
            "2019-2023",
            "synthetic",
            "multinomial split of REGION=000 (Dirichlet-perturbed regional shares), sums exactly",
            "generator",
        ),
    ]
    return [
        dict(
            zip(("table", "selection", "periods", "status", "method", "source"), ("DEMO14", *x), strict=True)
        )
        for x in rows
    ]
