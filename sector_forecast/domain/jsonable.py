"""numpy/pandas values as JSON types: one converter for stored values, reports and check metadata.

Two uses differ in one point only, so they share this code and choose with `strict`:

* storage (`strict=True`): a value either has an exact JSON form or the caller pickles it instead, so
  non-string keys and unknown types raise `TypeError`; floats are kept as they are (Python's `json`
  writes and reads NaN and infinity back).
* reports and metadata (default): what a reader or a JSON tool sees, so keys become strings and missing or
  non-finite numbers (NaN, NA, NaT, ±inf) become `null`; other objects pass through unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def to_json(value: Any, *, strict: bool = False) -> Any:
    """`value` with numpy scalars as Python ones, containers converted throughout (tuples become lists)."""
    if isinstance(value, dict):
        if strict and not all(isinstance(k, str) for k in value):
            raise TypeError("dict with non-string keys")  # JSON would turn them into strings
        return {str(k): to_json(v, strict=strict) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v, strict=strict) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if strict:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise TypeError(type(value).__name__)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
