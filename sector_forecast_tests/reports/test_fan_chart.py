"""The forecasts page's fan chart: history, the last published count, the forecasts at horizons 1..H and their
80%/95% bands per sector, and the data label."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection

from sector_forecast.domain.periods import quarter_offset, quarter_range
from sector_forecast.domain.sectors import SECTORS
from sector_forecast.reports import plots

NOTE = "RECONSTRUCTED data: snapshot of real, chart-read and synthetic figures (see data/README.md)"


def _history(last_count: float = 30.0) -> pd.DataFrame:
    """2019Q1..2026Q3 at 20 a quarter, the newest quarter's count ``last_count`` (NaN: not published)."""
    quarters = quarter_range("2019Q1", "2026Q3")
    rows = [(s, q, last_count if q == "2026Q3" else 20.0) for s in SECTORS for q in quarters]
    return pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies"])


def _forecasts(horizons: int) -> pd.DataFrame:
    """Horizon h: prediction 30, 80% band ±2h, 95% band ±4h (wider the further ahead)."""
    rows = [(s, quarter_offset("2026Q3", h), h, 30.0, 30.0 - 2 * h, 30.0 + 2 * h, 30.0 - 4 * h, 30.0 + 4 * h)
            for s in SECTORS for h in range(1, horizons + 1)]
    return pd.DataFrame(rows, columns=["sector", "quarter", "horizon", "prediction", "lower80", "upper80",
                                       "lower95", "upper95"])


@pytest.fixture
def figure():
    figs = []

    def draw(*args, **kwargs):
        figs.append(plots.fan_figure(*args, **kwargs))
        return figs[-1]

    yield draw
    for fig in figs:
        plt.close(fig)


def _band_tops(ax) -> list[list[float]]:
    """The upper edge of each filled band (95% first, then 80%), left to right."""
    tops = []
    for band in (c for c in ax.collections if isinstance(c, PolyCollection)):
        vertices = band.get_paths()[0].vertices
        xs = sorted(set(vertices[:, 0]))
        tops.append([float(vertices[vertices[:, 0] == x, 1].max()) for x in xs])
    return tops


@pytest.mark.parametrize("horizons", [1, 4])
def test_each_sector_fans_out_from_the_last_published_count(figure, horizons: int) -> None:
    fig = figure(_history(), _forecasts(horizons))
    panels = fig.axes[:10]
    assert [ax.get_title().replace("\n", " ") for ax in panels] == [f"{c}. {n}" for c, n in SECTORS.items()]
    ax = panels[2]
    # 95% band: starts at the last published count (30) and opens to 30 + 4h at horizon h; 80%: to 30 + 2h.
    assert _band_tops(ax) == [[30.0, *(30.0 + 4 * h for h in range(1, horizons + 1))],
                              [30.0, *(30.0 + 2 * h for h in range(1, horizons + 1))]]
    # The same intervals as bars at the forecast positions 20.. (95% thin, then 80% thick).
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [[tuple(seg[:, 1]) for seg in bar.get_segments()] for bar in bars] == [
        [(30.0 - 4 * h, 30.0 + 4 * h) for h in range(1, horizons + 1)],
        [(30.0 - 2 * h, 30.0 + 2 * h) for h in range(1, horizons + 1)]]
    assert [float(seg[0, 0]) for seg in bars[0].get_segments()] == [19.0 + h for h in range(1, horizons + 1)]
    # Five years of history (20 quarters), then the forecast quarters; the last tick is the last forecast's.
    assert ax.get_xticklabels()[-1].get_text() == quarter_offset("2026Q3", horizons)
    history_line = ax.lines[0]
    assert len(history_line.get_xdata()) == 20
    marked = ax.lines[1]
    assert (float(marked.get_xdata()[0]), float(marked.get_ydata()[0])) == (19.0, 30.0)


def test_an_unpublished_newest_quarter_is_not_marked_as_published(figure) -> None:
    fig = figure(_history(last_count=np.nan), _forecasts(1))
    marked = fig.axes[0].lines[1]
    # 2026Q3 is NaN: the mark (and the fan's start) is 2026Q2's 20, one position earlier.
    assert (float(marked.get_xdata()[0]), float(marked.get_ydata()[0])) == (18.0, 20.0)
    assert _band_tops(fig.axes[0])[0][0] == 20.0
    assert "2026Q2: 20" in [t.get_text() for t in fig.axes[0].texts]


def test_reconstructed_data_is_labelled_and_live_data_is_not(figure) -> None:
    labelled = [t.get_text() for t in figure(_history(), _forecasts(1), note=NOTE).texts]
    assert plots.RECONSTRUCTED in labelled
    live = [t.get_text() for t in figure(_history(), _forecasts(1), note="StatBank data from api").texts]
    assert plots.RECONSTRUCTED not in live


def test_fan_chart_is_a_png() -> None:
    png = plots.fan_chart(_history(), _forecasts(2), note=NOTE)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000  # ten panels of lines and bands, not an empty canvas
