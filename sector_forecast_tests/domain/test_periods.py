"""Period labels and the start dates Dagster's time-window partitions use as keys, converted in one place."""

import math

import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts.columns import nested_intervals
from sector_forecast.domain import periods
from sector_forecast.domain.jsonable import to_json


def test_month_and_quarter_start_dates_round_trip() -> None:
    assert periods.month_of_start("2024-01-01") == "2024M01"
    assert periods.month_start("2024M12") == "2024-12-01"
    assert periods.quarter_of_start("2024-10-01") == "2024Q4"
    assert periods.quarter_start("2024Q2") == "2024-04-01"
    # Q3 starts in July: its months start on the first of July, August and September.
    assert periods.quarter_month_starts("2026-07-01") == ["2026-07-01", "2026-08-01", "2026-09-01"]
    for quarter in periods.quarter_range("2023Q3", "2025Q2"):
        assert periods.quarter_of_start(periods.quarter_start(quarter)) == quarter


def test_quarter_index_steps_by_one_across_a_year_boundary() -> None:
    # 2024 * 4 + (4 - 1) = 8099, and the next quarter, 2025Q1, is 2025 * 4 + 0 = 8100.
    assert periods.quarter_index("2024Q4") == 8099
    assert periods.quarter_index("2025Q1") == 8100


@pytest.mark.parametrize("bad", ["2024M13", "2024-01", "24M01"])
def test_a_malformed_month_is_refused_with_its_label(bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        periods.month_start(bad)


def test_json_conversion_strict_for_storage_lenient_for_reports() -> None:
    value = {"n": np.int64(3), "x": np.float64(math.nan), "up": math.inf, "t": (1, pd.NA)}
    assert to_json(value) == {"n": 3, "x": None, "up": None, "t": [1, None]}
    assert to_json({"x": np.float64(1.5)}, strict=True) == {"x": 1.5}
    with pytest.raises(TypeError):
        to_json({1: "a"}, strict=True)  # JSON would make the key "1": the caller pickles instead
    with pytest.raises(TypeError):
        to_json({"t": pd.Timestamp("2024-01-01")}, strict=True)


def test_intervals_nest_with_infinite_or_missing_bounds() -> None:
    rows = pd.DataFrame({
        "lower95": [1.0, 1.0, 1.0, np.nan], "lower80": [2.0, 2.0, 2.0, 2.0], "prediction": [3.0, 3.0, 1.5, 3.0],
        "upper80": [4.0, np.inf, 4.0, 4.0], "upper95": [5.0, np.inf, 5.0, 5.0],
    })
    # Row 1: both upper bounds +inf (no calibration yet) still nest; row 2: point below lower80 does not;
    # row 3: a missing bound is its column's own check, not this one's.
    assert nested_intervals(rows).tolist() == [True, True, False, True]
