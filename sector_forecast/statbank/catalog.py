"""Static facts about the three StatBank tables: labels, variables, aggregation hierarchy, metadata builders.

Used by the snapshot generator and by the local server's `publish`, so both produce the same table shapes.
Codes come from `sector_forecast.domain.sectors`; only the English labels DST shows live here.
"""

from __future__ import annotations

import re

from sector_forecast.domain import sectors as S

CONTACTS = [{"name": "Statistics Denmark", "phone": "+45 39 17 39 17", "mail": "dst@dst.dk"}]
DOCUMENTATION = {"id": None, "url": "https://www.dst.dk/en/Statistik/dokumentation"}

_SECTOR_TEXT = {str(k): v for k, v in S.SECTORS.items()}
KONK4_TEXT = {
    "000": "Total",
    **_SECTOR_TEXT,
    "11": "Activity not stated",
    "G": "Wholesale and retail trade",
    "G01": "Sale and repair of motor vehicles",
    "G02": "Wholesale",
    "G03": "Retail trade",
    "H": "Transportation",
    "I": "Accommodation and food service activities",
    "101": "Accommodation",
    "102": "Food service activities",
}
KONK25_TEXT = {
    "A": S.SECTORS[1],
    "BCDE": S.SECTORS[2],
    "F": S.SECTORS[3],
    "GHI": S.SECTORS[4],
    "G": "Wholesale and retail trade",
    "G46": "Wholesale",
    "G47": "Retail trade",
    "H": "Transportation",
    "I": "Accommodation and food service activities",
    "I55": "Accommodation",
    "I56": "Food and beverage service activities",
    "JK": S.SECTORS[5],
    "L": S.SECTORS[6],
    "M": S.SECTORS[7],
    "NO": S.SECTORS[8],
    "PQR": S.SECTORS[9],
    "STUV": S.SECTORS[10],
}
VIRKTYP1_TEXT = {
    "K01": "All enterprises",
    "K02": "Active enterprises (employment and/or turnover of DKK 1m or more)",
    "K03": "Zero enterprises (no employment, turnover below DKK 1m)",
}
REGION_TEXT = {
    "000": "All Denmark",
    "081": "Region Nordjylland",
    "082": "Region Midtjylland",
    "083": "Region Syddanmark",
    "084": "Region Hovedstaden",
    "085": "Region Sjælland",
}
DEMO14_BRANCHE_TEXT = {"TOT": "Total", **_SECTOR_TEXT, "11": "Activity not stated"}
MEASURE_TEXT = {
    "NYE": "New enterprises (number)",
    "OPH": "Ceased enterprises (number)",
    "AFU": "Employees in new enterprises (full-time equivalents)",
    "OMS": "Turnover in new enterprises (DKK million)",
}

# (variable id, text, elimination, codes, labels) per table, time variable last.
VARIABLES: dict[str, list[tuple[str, str, bool, tuple[str, ...], dict[str, str]]]] = {
    "KONK4": [
        ("BRANCHE", "industry", True, S.KONK4_BRANCHE_CODES, KONK4_TEXT),
        ("VIRKTYP1", "type of enterprise", True, S.VIRKTYP1_CODES, VIRKTYP1_TEXT),
    ],
    "KONK25": [
        ("BRANCHE25", "industry (DB25)", False, S.KONK25_BRANCHE25_CODES, KONK25_TEXT),
        ("VIRKTYP1", "type of enterprise", True, S.VIRKTYP1_CODES, VIRKTYP1_TEXT),
    ],
    "DEMO14": [
        ("REGION", "region", True, S.DEMO14_REGION_CODES, REGION_TEXT),
        ("BRANCHEDB0710", "industry (DB07 10-grouping)", True, S.DEMO14_BRANCHE_CODES, DEMO14_BRANCHE_TEXT),
        ("MÆNGDE4", "unit", False, S.DEMO14_MEASURES, MEASURE_TEXT),
    ],
}
TEXT = {
    "KONK4": "Declared bankruptcies by industry, type of enterprise and time",
    "KONK25": "Declared bankruptcies by industry (DB25), type of enterprise and time",
    "DEMO14": "Business demography by region, industry (DB07 10-grouping), unit and time",
}
UNIT = {"KONK4": "Number", "KONK25": "Number", "DEMO14": "-"}
DESCRIPTION = {
    "KONK4": "Declared bankruptcies (DB07), monthly. Discontinued: replaced by KONK25 (DB25) from 2026.",
    "KONK25": "Declared bankruptcies by DB25 industry (NACE Rev. 2.1), monthly, history back to 2009M01.",
    "DEMO14": "New and ceased enterprises, employment and turnover in new enterprises, annual from 2019.",
}
ELIMINATION_CODE = {"BRANCHE": "000", "VIRKTYP1": "K01", "REGION": "000", "BRANCHEDB0710": "TOT"}

# Sums that hold inside a table: (column, aggregate code, children). Applied in this order, so nested
# sub-groups are summed before the groups that contain them. Sub-groups are never added to their parent twice.
_K4_SECTORS = [str(c) for c in S.SECTOR_CODES] + ["11"]
HIERARCHY: dict[str, list[tuple[str, str, list[str]]]] = {
    "KONK4": [
        ("BRANCHE", "G", ["G01", "G02", "G03"]),
        ("BRANCHE", "I", ["101", "102"]),
        ("BRANCHE", "4", ["G", "H", "I"]),
        ("BRANCHE", "000", _K4_SECTORS),
        ("VIRKTYP1", "K01", ["K02", "K03"]),
    ],
    "KONK25": [
        ("BRANCHE25", "G", ["G46", "G47"]),
        ("BRANCHE25", "I", ["I55", "I56"]),
        ("BRANCHE25", "GHI", ["G", "H", "I"]),
        ("VIRKTYP1", "K01", ["K02", "K03"]),
    ],
    "DEMO14": [
        ("BRANCHEDB0710", "TOT", [str(c) for c in S.SECTOR_CODES] + ["11"]),
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
    out = [first]
    while out[-1] != last:
        out.append(next_period(out[-1]))
    return out


def build_info(table: str, periods: list[str], updated: str, active: bool, footnote: str | None) -> dict:
    """The `tableinfo` document (lang=en) for a table with these periods."""
    variables = [
        {
            "id": vid,
            "text": text,
            "elimination": elim,
            "time": False,
            "values": [{"id": c, "text": labels[c]} for c in codes],
        }
        for vid, text, elim, codes, labels in VARIABLES[table]
    ]
    variables.append(
        {
            "id": "Tid",
            "text": "time",
            "elimination": False,
            "time": True,
            "values": [{"id": p, "text": p} for p in periods],
        }
    )
    return {
        "id": table,
        "text": TEXT[table],
        "description": DESCRIPTION[table],
        "unit": UNIT[table],
        "suppressedDataValue": "0",
        "updated": updated,
        "active": active,
        "contacts": CONTACTS,
        "documentation": DOCUMENTATION,
        "footnote": footnote,
        "variables": variables,
    }


def build_meta(info: dict) -> dict:
    """The table's entry in the `tables` listing, derived from its tableinfo."""
    periods = [v["id"] for v in info["variables"][-1]["values"]]
    return {
        "id": info["id"],
        "text": info["text"],
        "unit": info["unit"],
        "updated": info["updated"],
        "firstPeriod": periods[0],
        "latestPeriod": periods[-1],
        "active": info["active"],
        "variables": [v["text"] for v in info["variables"]],
    }
