"""The forecasts page's tables: intervals per sector and horizon, the score per horizon or why not, and `why`
(as the registered model explains it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.defs.assets.forecasts import _interval_frame, _score_markdown, _why
from sector_forecast.domain.scoreahead import score_reach
from sector_forecast.domain.sectors import SECTORS


def _result(horizons: int = 2) -> pd.DataFrame:
    """Served rows for sectors 1-2 at origin 2026Q3: prediction 10·h, 80% ±2, 95% ±4; a score at horizon 1."""
    rows = [(s, SECTORS[s], f"2026Q{3 + h}" if h == 1 else f"2027Q{h - 1}", h, 10.0 * h, 10.0 * h - 2,
             10.0 * h + 2, 10.0 * h - 4, 10.0 * h + 4) for s in (2, 1) for h in range(1, horizons + 1)]
    frame = pd.DataFrame(rows, columns=["sector", "sector_name", "quarter", "horizon", "prediction", "lower80",
                                        "upper80", "lower95", "upper95"])
    score = np.where(frame["horizon"] == 1, 0.5, np.nan)
    return frame.assign(score_prediction=score, score_lower80=score - 0.2, score_upper80=score + 0.2,
                        score_lower95=score - 0.3, score_upper95=score + 0.3, births_basis="nowcast")


def test_interval_table_has_a_row_per_sector_and_horizon() -> None:
    table = _interval_frame(_result())
    assert list(zip(table["sector"], table["horizon"], strict=True)) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert table.iloc[1][["quarter", "point", "80%", "95%"]].tolist() == ["2027Q1", 20.0, "18.0–22.0", "16.0–24.0"]


def test_score_section_says_each_horizons_status_and_shows_only_derived_scores() -> None:
    panel = pd.DataFrame([(s, f"{y}Q{q}", 100.0, "published") for s in (1, 2) for y in range(2019, 2024)
                          for q in (1, 2, 3, 4)], columns=["sector", "quarter", "births", "births_provenance"])
    reach = score_reach(panel, "2026Q3", forecast_horizons={1, 2}, derived_horizons={1})
    text = _score_markdown(reach, _result())
    assert "- **2026Q4** (1 ahead): derived: births of 2026 nowcast 3 year(s)" in text
    assert "- **2027Q1** (2 ahead): not derived: births of 2027 would be nowcast 4 years" in text
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len([line for line in table if "2026Q4" in line]) == 2  # both sectors' horizon-1 scores
    assert not [line for line in table if "2027Q1" in line]


def test_why_lists_every_sector_and_horizon_as_registered() -> None:
    result = _result().assign(why=lambda d: "log mean +0.10: log_lag0 +0.0" + d["horizon"].astype(str))
    text = _why("glm", "2026Q3", result)
    assert text.startswith("What moved each glm forecast from origin 2026Q2 to 2026Q3, per horizon")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "log mean" in line]
    assert len(rows) == 4 and "log_lag0 +0.02" in rows[1] and rows[1].split("|")[1].strip() == "1"
