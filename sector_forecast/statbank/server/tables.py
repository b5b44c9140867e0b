"""Facts about the three StatBank tables the local server needs at run time: sums, elimination codes, periods.

The codes are DST's own table codes (as `tableinfo` lists them), written out here so that the StatBank layer
knows nothing of how the project maps them to sectors. Labels and `tableinfo` builders live with the offline
reconstruction tools (`data/snapshot_tools/catalog.py`), which is the only code that writes tableinfo.
"""

from __future__ import annotations

import re

ELIMINATION_CODE = {"BRANCHE": "000", "VIRKTYP1": "K01", "REGION": "000", "BRANCHEDB0710": "TOT"}

# Sums that hold inside a table: (column, aggregate code, children). Applied in this order, so nested
# sub-groups are summed before the groups that contain them. Sub-groups are never added to their parent twice.
# KONK4's BRANCHE 1-10 and DEMO14's BRANCHEDB0710 1-10 are DST's ten-grouping; 11 is "activity not stated".
_TEN_GROUPING = [str(c) for c in range(1, 12)]
HIERARCHY: dict[str, list[tuple[str, str, list[str]]]] = {
    "KONK4": [
        ("BRANCHE", "G", ["G01", "G02", "G03"]),
        ("BRANCHE", "I", ["101", "102"]),
        ("BRANCHE", "4", ["G", "H", "I"]),
        ("BRANCHE", "000", _TEN_GROUPING),
        ("VIRKTYP1", "K01", ["K02", "K03"]),
    ],
    "KONK25": [
        ("BRANCHE25", "G", ["G46", "G47"]),
        ("BRANCHE25", "I", ["I55", "I56"]),
        ("BRANCHE25", "GHI", ["G", "H", "I"]),
        ("VIRKTYP1", "K01", ["K02", "K03"]),
    ],
    "DEMO14": [
        ("BRANCHEDB0710", "TOT", _TEN_GROUPING),
        ("REGION", "000", ["081", "082", "083", "084", "085"]),
    ],
}


def next_period(period: str) -> str:
    """The period after `period` in DST's time codes (2025M12 -> 2026M01, 2023 -> 2024, 2023K4 -> 2024K1)."""
    m = re.fullmatch(r"(\d{4})([MKHQ])(\d+)", period)
    if not m:
        return str(int(period) + 1)
    year, kind, n = int(m[1]), m[2], int(m[3])
    size = {"M": 12, "K": 4, "Q": 4, "H": 2}[kind]
    year, n = (year + 1, 1) if n == size else (year, n + 1)
    width = 2 if kind == "M" else 1
    return f"{year}{kind}{n:0{width}d}"


def period_range(first: str, last: str) -> list[str]:
    """Every period from `first` to `last`, both included, in DST's time codes."""
    out = [first]
    while out[-1] != last:
        out.append(next_period(out[-1]))
    return out
