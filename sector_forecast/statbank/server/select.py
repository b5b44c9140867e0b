"""DST value selectors: `*`, wildcards (`2023*`, `*M01`), ranges (`>=2023M01<=2024M06`), newest-N `(3)`."""

from __future__ import annotations

import fnmatch
import re

_BOUND = re.compile(r"(>=|<=|>|<)([^<>]+)")
_NEWEST = re.compile(r"\((-?\d+)\)")


class SelectionError(ValueError):
    """A selector names a code the variable does not have (DST: EXTRACT-NOTFOUND)."""


def _in_range(code: str, selector: str) -> bool:
    ok = True
    for op, bound in _BOUND.findall(selector):
        c, b = code.upper(), bound.strip().upper()
        ok &= {">=": c >= b, "<=": c <= b, ">": c > b, "<": c < b}[op]
    return ok


def select_values(variable: dict, selectors: list[str]) -> list[str]:
    """Codes of `variable` picked by `selectors`, in the table's own order; unknown exact codes raise."""
    codes = [str(v["id"]) for v in variable["values"]]
    by_upper = {c.upper(): c for c in codes}
    chosen: set[str] = set()
    for raw in selectors:
        sel = str(raw).strip()
        newest = _NEWEST.fullmatch(sel)
        if sel == "*":
            chosen.update(codes)
        elif newest:
            n = int(newest.group(1))
            chosen.update(codes[-n:] if n > 0 else codes[:-n])
        elif sel[:1] in "<>" and _BOUND.match(sel):
            chosen.update(c for c in codes if _in_range(c, sel))
        elif "*" in sel or "?" in sel:
            chosen.update(c for c in codes if fnmatch.fnmatchcase(c.upper(), sel.upper()))
        elif sel.upper() in by_upper:
            chosen.add(by_upper[sel.upper()])
        else:
            raise SelectionError(f"value {sel!r} not found in variable {variable['id']}")
    return [c for c in codes if c in chosen]
