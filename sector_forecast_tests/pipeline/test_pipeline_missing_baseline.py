"""Issue 19's bad input through the assets: a baseline that cannot forecast a sector is reported missing, never filled.

The bundled snapshot with one KONK25 cell suppressed (`..`): industry A (sector 1) in 2026M02, so sector 1's
2026Q1 count is unknown. The recent-mean baseline reads the last four quarters' counts: it cannot forecast sector
1 at origins 2026Q1 to 2026Q4. Trimmed to stay cheap: the raw stages and the panel in full (the features need the
history), the fits only at origins 2025Q2..2026Q3, then the evaluation (leaderboard and gate); no monitoring.
The domain rules (NaN with a reason, the gate on common pairs) are tested in domain/test_forecasters.py and
domain/test_evidence.py; here: the fit's page, the leaderboard's table and the gate's sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from sector_forecast.defs.pipeline import RANGE_END, RANGE_START, failure_lines, published_ranges
from sector_forecast.domain.gate import paired_losses
from sector_forecast.reports.evaluate import collect
from sector_forecast.statbank.snapshot import read_provenance, read_snapshot, write_snapshot_files
from sector_forecast.storage.values import read_stored
from sector_forecast.tracking.service import champion_name
from sector_forecast_tests.conftest import GraphEnv, make_graph_env
from sector_forecast_tests.statbank_server import SNAPSHOT, running_statbank_server

SUPPRESSED = ("A", "2026M02")  # KONK25 industry A = sector 1; 2026M02 lies in quarter 2026Q1
FIRST_ORIGIN, LAST_ORIGIN = "2025-04-01", "2026-07-01"  # fits at origins 2025Q2..2026Q3 only


def _snapshot_with_a_suppressed_cell(target: Path) -> None:
    tables = read_snapshot(SNAPSHOT)
    konk25 = tables["KONK25"]
    branche, month = SUPPRESSED
    cell = (konk25.data["BRANCHE25"] == branche) & (konk25.data["TID"] == month)
    assert cell.sum() == 3  # one per enterprise type
    konk25.data.loc[cell, "INDHOLD"] = ".."
    write_snapshot_files(target, tables.values(), read_provenance(SNAPSHOT))


@dataclass
class Graph:
    env: GraphEnv
    evaluation: list[str]  # the evaluation run's failure lines (empty: it succeeded)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    snapshot = tmp_path_factory.mktemp("suppressed_snapshot")
    _snapshot_with_a_suppressed_cell(snapshot)
    with running_statbank_server(snapshot, tmp_path_factory.mktemp("suppressed_server")) as server:
        env = make_graph_env(tmp_path_factory.mktemp("suppressed_graph"), server.url)
        ranges = published_ranges(env.client)
        ranges["fits_job"] = (FIRST_ORIGIN, LAST_ORIGIN)
        failures: list[str] = []
        for name in ("konk4_job", "konk25_job", "demo14_job", "panel_job", "fits_job", "evaluation_job"):
            window = ranges.get(name)
            tags = {RANGE_START: window[0], RANGE_END: window[1]} if window else {}
            result = env.defs.resolve_job_def(name).execute_in_process(
                instance=env.instance, tags=tags, raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
            failures = failure_lines(result)
            assert result.success or name == "evaluation_job", (name, failures)
        yield Graph(env, failures)
        env.instance.dispose()


def _metadata(env: GraphEnv, asset: str, partition: str | None = None) -> dict:
    records = env.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None),
        limit=1).records
    return records[0].asset_materialization.metadata


def test_the_fit_page_names_the_sector_it_could_not_forecast_and_why(graph: Graph) -> None:
    env = graph.env
    missing = _metadata(env, "fit_mean_4q", "2026-01-01")["missing_forecasts"].value
    assert set(missing) == {"1"} and "unknown" in missing["1"]  # the reason, from domain/baselines.py
    stored = read_stored(env.storage, "fit_mean_4q", "2026-01-01")["predictions"]
    sector1 = stored[(stored["sector"] == 1)]
    assert sector1["prediction"].isna().all()  # missing, never replaced by another value
    assert _metadata(env, "fit_mean_4q", "2025-04-01")["missing_forecasts"].value == {}  # before the gap


def test_the_leaderboard_and_the_gate_say_how_many_forecasts_are_missing(graph: Graph) -> None:
    assert not graph.evaluation, graph.evaluation
    env = graph.env
    board = read_stored(env.storage, "backtest_leaderboard")
    predictions = board["predictions"]
    gaps = predictions[predictions["prediction"].isna()]
    mean_4q = gaps[gaps["model"] == "mean_4q"]
    # origins 2026Q1..2026Q3 of the fitted range: the recent mean of sector 1 includes the suppressed quarter
    assert sorted(mean_4q["origin"]) == ["2026Q1", "2026Q2", "2026Q3"] and set(mean_4q["sector"]) == {1}
    table = _metadata(env, "backtest_leaderboard")["missing_forecasts"].value
    assert "| mean_4q | 1 | 3 |" in re.sub(" +", " ", table)  # model, sector, origins missing
    # the forecasts page lists what the served champion could not forecast at the newest origin, instead of failing
    served = champion_name(read_stored(env.storage, "champion_model"))
    by_horizon = board["predictions_by_horizon"]
    now = by_horizon[(by_horizon["model"] == served) & (by_horizon["origin"] == by_horizon["origin"].max())]
    gaps_now = now[now["prediction"].isna()].sort_values(["sector", "horizon"])
    expected = ", ".join(f"sector {s} horizon {h}" for s, h in zip(gaps_now["sector"], gaps_now["horizon"],
                                                                   strict=True)) or "none"
    assert _metadata(env, "forecasts")["missing_forecasts"].value == expected
    assert read_stored(env.storage, "forecasts")[["sector", "horizon"]].merge(gaps_now[["sector", "horizon"]]).empty
    # evaluate --json counts them too
    assert collect(env.storage, env.defs.resources["statbank"].provenance_shares())[
        "missing_forecasts"]["mean_4q"] == 3
    # The gate compares the candidate and the best baseline only where both forecast a graded quarter, and says
    # how many pairs that is.
    gate = read_stored(env.storage, "champion_model")["gate"]
    candidate, baseline = gate["candidate"], gate["baseline"]
    pairs = paired_losses(predictions, candidate, baseline)  # horizon 1: the gate's decision
    assert f"over {len(pairs)} common origins ({int(pairs['rows'].sum())} sector forecasts)" in gate["reason"]
    if "mean_4q" in (candidate, baseline):  # its three gaps (two of them graded) are left out of the count
        graded = predictions[(predictions["model"] == candidate) & predictions["actual"].notna()]
        assert int(pairs["rows"].sum()) < len(graded)
    assert _metadata(env, "champion_model")["reason"].value == gate["reason"]
