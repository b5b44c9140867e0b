"""What `sector-forecast run` and the forecast plot show: periods as a reader names them, sectors in full."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from sector_forecast.cli.summary import forecast_table, year_ahead_table
from sector_forecast.defs.partitions import (
    konk4_monthly_partitions,
    monthly_partitions,
    quarterly_partitions,
    yearly_partitions,
)
from sector_forecast.defs.pipeline import period_label
from sector_forecast.domain.sectors import SECTORS
from sector_forecast.reports import plots


@pytest.mark.parametrize(
    ("partitions_def", "key", "label"),
    [
        (quarterly_partitions, "2009-01-01", "2009Q1"),
        (quarterly_partitions, "2026-07-01", "2026Q3"),
        (monthly_partitions, "2009-01-01", "2009M01"),
        (konk4_monthly_partitions, "2025-12-01", "2025M12"),
        (yearly_partitions, "2019", "2019"),
    ],
)
def test_stage_ranges_are_labelled_as_periods(partitions_def, key: str, label: str) -> None:
    assert period_label(partitions_def, key) == label


def _forecast() -> pd.DataFrame:
    return pd.DataFrame({
        "sector": list(SECTORS), "quarter": "2026Q4", "prediction": 10.0, "lower80": 8.0, "upper80": 12.0,
        "lower95": 7.0, "upper95": 13.0,
    })


def test_forecast_table_names_every_sector_in_full() -> None:
    table = forecast_table(_forecast())
    for name in SECTORS.values():
        assert name in table, table
    longest = max(SECTORS.values(), key=len)
    assert len(longest) > 40  # what the table used to cut at


def test_the_year_ahead_table_has_a_column_per_forecast_quarter() -> None:
    rows = pd.DataFrame([(s, h, f"2027Q{h}", 10.0 * h + s, 9.5 * h, 10.6 * h + s)
                         for s in (1, 2) for h in (1, 2, 3, 4)],
                        columns=["sector", "horizon", "quarter", "prediction", "lower80", "upper80"])
    lines = year_ahead_table(rows).splitlines()
    assert lines[0].split() == ["quarter", "2027Q1", "2027Q2", "2027Q3", "2027Q4"]
    # sector 2 at horizon 3: point 32, interval [28.5, 33.8] to whole bankruptcies (28.5 rounds half to even)
    assert lines[3].split()[0] == "2" and "32 [28, 34]" in lines[3]


def test_forecast_plot_titles_name_every_sector_in_full() -> None:
    history = pd.DataFrame(
        [(s, f"{y}Q{q}", 10.0) for s in SECTORS for y in (2025, 2026) for q in (1, 2, 3)],
        columns=["sector", "quarter", "bankruptcies"],
    )
    fig = plots.fan_figure(history, _forecast())
    try:
        titles = [ax.get_title().replace("\n", " ") for ax in fig.axes]
    finally:
        plt.close(fig)
    assert titles == [f"{code}. {name}" for code, name in SECTORS.items()]
