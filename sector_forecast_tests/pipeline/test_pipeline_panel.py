"""Panel and features from a local StatBank server: missing months, unpublished DEMO14 years, no look-ahead."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from sector_forecast.defs.assets.panel import DIVERGENCE_TOLERANCE, divergence_result
from sector_forecast.domain.panel import konk_divergence
from sector_forecast.storage.values import read_stored
from sector_forecast_tests.conftest import GraphEnv, copy_graph, make_graph_env
from sector_forecast_tests.statbank_server import ServerHandle


def _raw_and_panel(graph: GraphEnv, server: ServerHandle, root: Path) -> GraphEnv:
    """Raw tables, panel and features of every published partition of the bundled snapshot on `server`.

    What `env.run(["konk4_job", "konk25_job", "demo14_job", "panel_job"])` leaves on a fresh instance, taken
    from a copy of the session's `materialised_graph` (built from the same snapshot) instead of run again.
    """
    server.reset()
    return copy_graph(graph.root, root, server.url)


def _features(env: GraphEnv) -> pd.DataFrame:
    files = sorted((env.storage / "feature_frame").glob("*.parquet"))
    return pd.concat(read_stored(env.storage, "feature_frame", f.stem) for f in files).reset_index(drop=True)


def test_quarter_with_an_unmaterialised_month_is_not_built(server: ServerHandle, tmp_path: Path) -> None:
    env = make_graph_env(tmp_path, server.url)
    konk25 = env.defs.resolve_job_def("konk25_job")
    for month in ("2026-07-01", "2026-08-01"):
        assert konk25.execute_in_process(instance=env.instance, partition_key=month).success
    result = env.defs.resolve_job_def("panel_job").execute_in_process(
        instance=env.instance, partition_key="2026-07-01", raise_on_error=False
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "2026Q3" in message and "konk25_raw partition 2026-09-01 is not materialised" in message
    assert not (env.storage / "quarterly_panel" / "2026-07-01.parquet").exists()


def test_unpublished_demo14_years_are_nowcast_then_replaced_when_published(
    server: ServerHandle, materialised_graph: GraphEnv, tmp_path: Path
) -> None:
    env = _raw_and_panel(materialised_graph, server, tmp_path)
    # A single-quarter re-run (what automation does) nowcasts from the same years as the full-range run.
    full_range = read_stored(env.storage, "quarterly_panel", "2026-07-01")
    assert env.defs.resolve_job_def("panel_job").execute_in_process(
        instance=env.instance, partition_key="2026-07-01").success
    pd.testing.assert_frame_equal(full_range, read_stored(env.storage, "quarterly_panel", "2026-07-01"))
    assert set(full_range["births_source_year"]) == {2023}
    before = read_stored(env.storage, "quarterly_panel", "2024-04-01")
    assert set(before["births_provenance"]) == {"nowcast"}
    assert set(before["births_source_year"]) == {2023}
    server.publish("DEMO14")  # DST publishes 2024
    assert env.run(["demo14_job", "panel_job"]).success
    after = read_stored(env.storage, "quarterly_panel", "2024-04-01")
    assert set(after["births_provenance"]) == {"published"}
    assert set(read_stored(env.storage, "quarterly_panel", "2025-04-01")["births_provenance"]) == {"nowcast"}
    # Bankruptcies are untouched; only births moved, and 2024 now has published births, balance and score.
    pd.testing.assert_series_equal(before["bankruptcies"], after["bankruptcies"])
    assert before["score"].isna().all() and after["score"].notna().all()


def test_revising_a_late_month_leaves_earlier_features_unchanged(
    server: ServerHandle, materialised_graph: GraphEnv, tmp_path: Path
) -> None:
    env = _raw_and_panel(materialised_graph, server, tmp_path)
    before = _features(env)
    server.revise("KONK25", {"BRANCHE25": "F", "VIRKTYP1": "K02", "Tid": "2026M08"}, 400)
    assert env.run(["konk25_job", "panel_job"]).success
    after = _features(env)
    early = before["quarter"] < "2026Q2"
    pd.testing.assert_frame_equal(before[early], after[early])
    # The quarter before carries the revised quarter's count as its target, and only in that column.
    q2 = (before["quarter"] == "2026Q2") & (before["sector"] == 3)
    assert before.loc[q2, "target"].item() != after.loc[q2, "target"].item()
    assert before.drop(columns="target")[q2].equals(after.drop(columns="target")[q2])
    q3 = (after["quarter"] == "2026Q3") & (after["sector"] == 3)
    assert after.loc[q3, "bankruptcies"].item() > before.loc[q3, "bankruptcies"].item()


DIVERGENCE = dg.AssetCheckKey(dg.AssetKey("quarterly_panel"), "konk4_konk25_divergence")


def _divergence_frame(konk25: list[int], konk4: list[int | None]) -> pd.DataFrame:
    return pd.DataFrame({"sector": [1, 10], "quarter": "2025Q4", "bankruptcies": pd.array(konk25, dtype="Int64"),
                         "bankruptcies_konk4": pd.array(konk4, dtype="Int64")})


def test_divergence_check_judges_only_what_it_can_compare() -> None:
    within = divergence_result(_divergence_frame([12, 11], [10, 10]))  # +20% and +10%: inside 25%
    assert within.passed and within.metadata["max_abs_relative_divergence"].value == 0.2
    beyond = divergence_result(_divergence_frame([12, 13], [10, 10]))  # sector 10: (13 - 10) / 10 = 30% > 25%
    assert not beyond.passed and "30.0%" in beyond.description
    assert beyond.severity == dg.AssetCheckSeverity.WARN
    nothing = divergence_result(_divergence_frame([12, 13], [None, None]))  # after KONK4 closed: no figures
    assert not nothing.passed and nothing.severity == dg.AssetCheckSeverity.WARN
    assert nothing.description.startswith("not applicable: nothing to compare") and "2025Q4" in nothing.description
    assert nothing.metadata["applicable"].value is False and nothing.metadata["quarters_compared"].value == 0


def _latest_divergence(env: GraphEnv) -> dg.AssetCheckEvaluation:
    [record] = env.instance.event_log_storage.get_asset_check_execution_history(DIVERGENCE, limit=1)
    return record.event.asset_check_evaluation


def test_divergence_on_the_bundled_snapshot_then_a_quarter_after_konk4_closed(
    server: ServerHandle, materialised_graph: GraphEnv, tmp_path: Path
) -> None:
    env = _raw_and_panel(materialised_graph, server, tmp_path)
    # The full-range run compared 2009Q1..2025Q4; its figure is the stored panel's own divergence.
    full = _latest_divergence(env)
    files = sorted((env.storage / "quarterly_panel").glob("*.parquet"))
    panel = pd.concat(read_stored(env.storage, "quarterly_panel", f.stem) for f in files)
    table = konk_divergence(panel)
    worst = table["relative_divergence"].abs().max()
    assert full.metadata["applicable"].value is True
    assert full.metadata["max_abs_relative_divergence"].value == round(worst, 3)
    assert full.passed == (worst <= DIVERGENCE_TOLERANCE)
    # A re-run of 2026Q1 alone (what automation does for a new KONK25 quarter) has no KONK4 figure to compare.
    assert env.defs.resolve_job_def("panel_job").execute_in_process(
        instance=env.instance, partition_key="2026-01-01").success
    alone = _latest_divergence(env)
    assert not alone.passed and alone.metadata["applicable"].value is False
    assert alone.description.startswith("not applicable") and "2026Q1" in alone.description
