"""The ten DB07 sectors and how each StatBank table's industry codes map onto them.

Labels follow DST's own English labels for the DB07 10-grouping (the reference design shifted them).
"""

from __future__ import annotations

SECTORS: dict[int, str] = {
    1: "Agriculture, forestry and fishing",
    2: "Manufacturing, mining and quarrying, and utility services",
    3: "Construction",
    4: "Trade and transport etc.",
    5: "Information and communication",
    6: "Financial and insurance",
    7: "Real estate",
    8: "Other business services",
    9: "Public administration, education and health",
    10: "Arts, entertainment and other services",
}
SECTOR_CODES: tuple[int, ...] = tuple(SECTORS)

# KONK4 BRANCHE (DB07). Sub-groups G..102 are nested inside 4 and must never be added to it.
KONK4_BRANCHE_CODES: tuple[str, ...] = (
    "000", "1", "2", "3", "4", "G", "G01", "G02", "G03", "H", "I", "101", "102",
    "5", "6", "7", "8", "9", "10", "11",
)
KONK4_TO_SECTOR: dict[str, int] = {str(code): code for code in SECTOR_CODES}

# KONK25 BRANCHE25 (DB25, NACE Rev. 2.1). Sub-groups G..I56 are nested inside GHI.
KONK25_BRANCHE25_CODES: tuple[str, ...] = (
    "A", "BCDE", "F", "GHI", "G", "G46", "G47", "H", "I", "I55", "I56",
    "JK", "L", "M", "NO", "PQR", "STUV",
)
KONK25_TO_SECTOR: dict[str, int] = {
    "A": 1, "BCDE": 2, "F": 3, "GHI": 4, "JK": 5, "L": 6, "M": 7, "NO": 8, "PQR": 9, "STUV": 10,
}

VIRKTYP1_CODES: tuple[str, ...] = ("K01", "K02", "K03")
ACTIVE_ENTERPRISES = "K02"

DEMO14_REGION_CODES: tuple[str, ...] = ("000", "081", "082", "083", "084", "085")
DEMO14_BRANCHE_CODES: tuple[str, ...] = ("TOT", *[str(c) for c in SECTOR_CODES], "11")
DEMO14_MEASURES: tuple[str, ...] = ("NYE", "OPH", "AFU", "OMS")
