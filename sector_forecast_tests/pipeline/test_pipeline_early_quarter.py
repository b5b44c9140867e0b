"""The first days of a quarter: its partitions exist, but DST has not published the quarter's last month yet.

The bundled snapshot minus KONK25's newest quarter-closing month (2026M09) is served, so the origin partition
2026Q3 exists (the clock is past the quarter's end) but cannot be fitted. The whole pipeline must still run:
the leaderboard scores the fitted origins, the champion and the forecasts come from the newest fitted origin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.trimmed_snapshot import snapshot_without_last_quarter_month
from sector_forecast.defs.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.storage.values import read_stored
from sector_forecast_tests.conftest import GraphEnv, make_graph_env
from sector_forecast_tests.statbank_server import running_statbank_server


@pytest.fixture(scope="module")
def early(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphEnv, str]]:
    snapshot = tmp_path_factory.mktemp("trimmed_snapshot")
    withheld = snapshot_without_last_quarter_month(snapshot)
    with running_statbank_server(snapshot, tmp_path_factory.mktemp("early_server")) as server:
        env = make_graph_env(tmp_path_factory.mktemp("early_graph"), server.url)
        result = env.run()
        assert result.success, [(s.job, s.success) for s in result.stages]
        yield env, withheld


def test_the_withheld_quarter_exists_as_a_partition_but_has_no_fit(early: tuple[GraphEnv, str]) -> None:
    env, withheld = early
    assert withheld == "2026M09"
    assert "2026-07-01" in origin_partitions.get_partition_keys()
    fitted = sorted(p.stem for p in (env.storage / "fit_glm").glob("*.json"))
    assert fitted[-1] == "2026-04-01"


def test_the_leaderboard_champion_and_forecasts_use_the_newest_fitted_origin(early: tuple[GraphEnv, str]) -> None:
    env, _ = early
    leaderboard = read_stored(env.storage, "backtest_leaderboard")
    assert leaderboard["predictions"]["origin"].max() == "2026Q2"
    champion = read_stored(env.storage, "champion_model")
    assert champion["origin"] == "2026Q2"
    forecasts = read_stored(env.storage, "forecasts")
    # horizons 1–4 from origin 2026Q2: ten sectors each of 2026Q3..2027Q2, the next quarter at horizon 1
    assert len(forecasts) == 40 and set(forecasts.loc[forecasts["horizon"] == 1, "quarter"]) == {"2026Q3"}
    assert sorted(set(forecasts["quarter"])) == ["2026Q3", "2026Q4", "2027Q1", "2027Q2"]


def test_monitoring_stops_at_the_newest_fitted_origin(early: tuple[GraphEnv, str]) -> None:
    env, _ = early
    reports = sorted(p.stem for p in (env.storage / "drift_report").glob("*.json"))
    assert reports and quarter_key_to_label(reports[-1]) == "2026Q2"
