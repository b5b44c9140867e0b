"""The reconstruction's `provenance.csv`: which cells are real, approximate or synthetic, and from where."""

from __future__ import annotations

from pathlib import Path

from snapshot_tools import demo14
from snapshot_tools.konk import KONK25_LAST, SUPPRESSED_I55, SYN, read_real


def provenance_rows(real_dir: Path) -> list[dict[str, str]]:
    """Which cells are real, approximate or synthetic, with the method and source of each group."""
    real_dir = Path(real_dir)
    src = lambda df: "; ".join(sorted(set(df["source"])))  # noqa: E731
    s1 = read_real(real_dir, "konk4_k02_sector1_samples.csv")
    cmp_ = read_real(real_dir, "konk4_vs_konk25_2025M12.csv")
    r = [
        (
            "KONK4",
            "BRANCHE=1;VIRKTYP1=K02",
            "2009M01-2009M10",
            "real",
            "exact monthly figures",
            src(s1[s1.freq == "month"]),
        ),
        (
            "KONK4",
            "BRANCHE=1;VIRKTYP1=K02 (quarter sums)",
            "2009K1-2010K4;2020K4-2021K3",
            "real",
            "quarter sums exact; their months split multinomially (synthetic)",
            src(s1[s1.freq == "quarter"]),
        ),
        (
            "KONK4",
            "BRANCHE=1..10 summed;VIRKTYP1=K02",
            "2009M01-2025M12",
            "approximate",
            "sum over sectors 1-10 equals the chart-digitized total exactly (+-3)",
            "data/real/konk4_k02_sum_sectors1to10_monthly_digitized.csv",
        ),
        (
            "KONK4",
            "BRANCHE=" + ",".join(cmp_.konk4_branche_db07) + ";VIRKTYP1=K02",
            "2025M12",
            "real",
            "exact",
            src(cmp_),
        ),
        (
            "KONK4",
            "all other cells (each sector, G01/G02/101/102, 11, 000, K01, K03)",
            "2009M01-2025M12",
            "synthetic",
            "multinomial split of the digitized total with documented shares; " + SYN,
            "generator",
        ),
        (
            "KONK25",
            "BRANCHE25=" + ",".join(cmp_.konk25_branche25_db25) + ";VIRKTYP1=K02",
            "2025M12",
            "real",
            "exact",
            src(cmp_),
        ),
        (
            "KONK25",
            "sum of the ten sector groups;VIRKTYP1=K02",
            "2009M01-2025M12",
            "approximate",
            "equals the KONK4 digitized total (reclassification moves cells between groups only)",
            "data/real/konk4_k02_sum_sectors1to10_monthly_digitized.csv",
        ),
        (
            "KONK25",
            "all other cells",
            "2009M01-2025M12",
            "synthetic",
            "KONK4 reconstruction through documented DB07->DB25 moves (binomial); " + SYN,
            "generator",
        ),
        (
            "KONK25",
            "all cells",
            f"2026M01-{KONK25_LAST}",
            "synthetic",
            "Poisson around the same month of the last 3 years; " + SYN,
            "generator",
        ),
        (
            "KONK25",
            "BRANCHE25=I55;VIRKTYP1=K01,K02,K03",
            ",".join(SUPPRESSED_I55),
            "synthetic",
            "suppressed (..) on purpose so the suppressed-cell path is exercised",
            "generator",
        ),
    ]
    rows = [
        dict(zip(("table", "selection", "periods", "status", "method", "source"), x, strict=True)) for x in r
    ]
    return rows + demo14.provenance_rows(real_dir)
