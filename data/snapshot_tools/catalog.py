"""Labels, variables and `tableinfo`/`tables` builders of the three StatBank tables, for the reconstruction.

Codes come from `sector_forecast.domain.sectors` (a tool may use the domain; the StatBank layer may not); only
the English labels DST shows live here. Sums and period arithmetic are the server's (`statbank/server/tables.py`).
"""

from __future__ import annotations

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
