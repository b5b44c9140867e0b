"""The forecasts page's tables: intervals per sector and horizon, the score per horizon or why not, and `why`
(the champion refitted at two origins, checked against what serves)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from sector_forecast.defs.assets.forecasts import _interval_frame, _score_markdown, _why
from sector_forecast.domain.features import build_features
from sector_forecast.domain.forecasters import rolling_origin_fit
from sector_forecast.domain.periods import quarter_of_year, quarter_range
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


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = [(s, q, int(rng.poisson(5 + 2 * s + 3 * (quarter_of_year(q) == 1))), np.nan, "unavailable")
            for q in quarter_range("2015Q1", "2023Q4") for s in SECTORS]
    panel = pd.DataFrame(rows, columns=["sector", "quarter", "bankruptcies", "births", "births_provenance"])
    return build_features(panel.astype({"bankruptcies": "Int64"}), quarter_range("2015Q1", "2023Q3"))


def _served(features: pd.DataFrame, shift: float = 0.0) -> pd.DataFrame:
    _, pred = rolling_origin_fit("glm", features, "2023Q3")
    return pred.rename(columns={"target_quarter": "quarter"})[["sector", "quarter", "prediction"]].assign(
        prediction=lambda d: d["prediction"] + shift, horizon=1, sector_name=lambda d: d["sector"].map(SECTORS))


def test_why_joins_the_served_rows_and_says_the_refit_matches(features: pd.DataFrame, caplog) -> None:
    result, text = _why("glm", features, "2023Q3", _served(features), logging.getLogger("test"))
    assert result["why"].str.startswith("log mean ").all() and len(result) == 10
    assert "from origin 2023Q2 to 2023Q3" in text and "the forecasts equal the served ones)" in text
    # A served table that is not the backtest's fit (here 0.5 more everywhere) is said, and logged.
    with caplog.at_level(logging.WARNING):
        _, text = _why("glm", features, "2023Q3", _served(features, 0.5), logging.getLogger("test"))
    assert "only to within 0.5" in text and "differs from the served forecast by 0.5" in caplog.text


def test_no_previous_origin_leaves_why_empty_and_says_so(features: pd.DataFrame) -> None:
    served = _served(features)
    result, text = _why("glm", features, "2023Q4", served.assign(quarter="2024Q1"), logging.getLogger("test"))
    assert result["why"].isna().all() and text == "No explanation: no feature rows for origin 2023Q4."
