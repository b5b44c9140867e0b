"""From a DST release to the forecasts: sensor tick → raw run → automation → exactly the dependent partitions.

Starts from a copy of the fully materialised graph (the session's `materialised_graph`) talking to this
module's own local server. The tests run in file order on one instance, as one story: nothing changed →
DST publishes 2026M10 → DST revises 2026M08. Automation is evaluated with `evaluate_automation_conditions`
and what it requests is executed in-process, stage by stage, as the automation sensor's backfill would.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pandas as pd
import pytest

from sector_forecast import clock
from sector_forecast.defs.assets.models import FIT_ASSET_NAMES
from sector_forecast.defs.partitions import origin_partitions, quarterly_partitions
from sector_forecast.defs.sensors.publication import TRIGGER_TAG
from sector_forecast.defs.sensors.schedules import quarterly_safety_net
from sector_forecast.domain.releases import expected_latest_period
from sector_forecast.storage.values import read_stored
from sector_forecast_tests.automation.conftest import (
    clone_graph,
    execute_request,
    execute_requested,
    requested,
    schedule_tick,
    sensor_tick,
)
from sector_forecast_tests.conftest import GraphEnv
from sector_forecast_tests.statbank_server import ServerHandle

FITS = list(FIT_ASSET_NAMES)
Q2, Q3, Q4 = "2026-04-01", "2026-07-01", "2026-10-01"


@dataclass
class World:
    env: GraphEnv
    server: ServerHandle
    sensor_cursor: str | None = None
    automation_cursor: object = None

    def tick(self) -> list[dg.RunRequest]:
        """One publication-sensor tick; its run requests (the cursor moves only on a healthy tick)."""
        result = sensor_tick(self.env, self.sensor_cursor)
        assert isinstance(result, dg.SensorResult), result
        self.sensor_cursor = result.cursor
        return list(result.run_requests or [])

    def automation(self) -> dict[str, set[str | None]]:
        """One automation tick over the whole graph: asset -> requested partitions."""
        result = dg.evaluate_automation_conditions(
            defs=self.env.defs, instance=self.env.instance, cursor=self.automation_cursor
        )
        self.automation_cursor = result.cursor
        return requested(self.env, result)

    def monitoring(self) -> set[str]:
        graph = self.env.defs.resolve_asset_graph()
        return {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "monitoring"}


@pytest.fixture(scope="module")
def world(materialised_graph: GraphEnv, statbank: ServerHandle, tmp_path_factory) -> World:
    statbank.reset()
    env = clone_graph(materialised_graph, tmp_path_factory.mktemp("automation_flow"), statbank.url)
    world = World(env, statbank)
    assert world.tick() == []  # first look: baseline, the instance already holds 2026M09
    assert world.automation() == {}  # first evaluation: nothing is "new"
    return world


def test_nothing_changed_means_no_run(world: World) -> None:
    assert world.tick() == []
    assert world.automation() == {}
    assert world.automation() == {}


def test_a_new_month_materialises_its_partition_and_nothing_downstream(world: World) -> None:
    runs_before = len(world.env.instance.get_runs())
    world.server.publish("KONK25")  # 2026M10: 2026Q4 still lacks two months, so no panel run (at any date)
    (request,) = world.tick()
    assert (request.job_name, request.partition_key, request.tags[TRIGGER_TAG]) == (
        "konk25_job", "2026-10-01", "publication")
    execute_request(world.env, request)
    assert "2026-10-01" in world.env.instance.get_materialized_partitions(dg.AssetKey("konk25_raw"))
    assert world.automation() == {}
    assert len(world.env.instance.get_runs()) == runs_before + 1
    freshness = world.env.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("konk25_raw"), "dst_release_freshness")])
    (record,) = freshness.values()
    due, _ = expected_latest_period("month", clock.now())  # 2026M10 from 10 Nov 2026 to 10 Dec 2026
    assert record.event.asset_check_evaluation.passed == (due <= "2026M10")


def test_the_quarterly_safety_net_skips_when_the_sensor_kept_up(world: World) -> None:
    result = schedule_tick(world.env, quarterly_safety_net)
    assert isinstance(result, dg.SkipReason) and "through 2026M10 is materialised" in result.skip_message


def test_a_revision_reruns_exactly_the_affected_partitions_downstream(world: World) -> None:
    """2026M08 revised: each automation tick requests exactly the next stage, then nothing.

    Requests chain within a tick only between assets of one partitions definition, so the flow advances a
    stage per tick: quarters -> forecast origins -> unpartitioned evaluation -> monitoring (per origin).
    """
    before = read_stored(world.env.storage, "quarterly_panel", Q3)
    forecasts_before = world.env.instance.get_latest_materialization_event(dg.AssetKey("forecasts")).run_id
    world.server.revise("KONK25", {"BRANCHE25": "A", "VIRKTYP1": "K02", "Tid": "2026M08"}, 60)
    (request,) = world.tick()
    assert (request.partition_key, request.tags[TRIGGER_TAG]) == ("2026-08-01", "revision")
    execute_request(world.env, request)

    # 2026M08 lies in 2026Q3; feature_frame 2026Q2 holds the target (2026Q3's count) besides 2026Q3 itself.
    # Once the calendar has passed 2026Q4's end (early 2027), feature_frame 2026Q3 also reads its target
    # quarter 2026Q4, a partition DST has not published (the snapshot ends in 2026M10): it waits for it, with
    # the trigger kept (automation.py, "the target quarter waits"). Before that, 2026Q4 does not exist yet.
    q4_exists = Q4 in quarterly_partitions.get_partition_keys()
    features = {Q2} if q4_exists else {Q2, Q3}
    assert world.automation() == {"quarterly_panel": {Q3}, "feature_frame": features}
    assert execute_requested(world.env, {"quarterly_panel": {Q3}, "feature_frame": features}) == [
        "quarterly_panel 2026-07-01..2026-07-01", f"feature_frame 2026-04-01..{max(features)}"]
    # The origins whose training window (40 quarters back) holds a re-built feature row; in the same tick the
    # drift report of the revised quarter, which judges its counts and the forecast made for it at 2026Q2
    # (automation.JUDGED_WHEN): it does not wait for the new fits. Later quarters that read 2026Q3 as history
    # (2026Q4 from early 2027) wait for their own unpublished panel quarter.
    fits = {fit: {Q2, Q3} for fit in FITS}
    judged = {"drift_report": {Q3}} if "drift_report" in world.monitoring() else {}
    assert world.automation() == fits | judged
    execute_requested(world.env, fits | judged)
    # The rolling-origin backtest changed: leaderboard, promotion gate and forecasts, once each.
    # monitor_evaluation (unpartitioned, reads the leaderboard and champion) chains into the same tick and run.
    evaluation = {"backtest_leaderboard": {None}, "champion_model": {None}, "forecasts": {None},
                  "monitor_evaluation": {None}}
    assert world.automation() == evaluation
    assert execute_requested(world.env, evaluation) == [
        "backtest_leaderboard,champion_model,forecasts,monitor_evaluation -"]

    if "batch_predictions" in world.monitoring():
        # The new champion's forecast enters the prediction log at the newest origin only (what it serves); the
        # log keeps what earlier origins served, and no drift report is re-judged (automation.OWN_CONDITIONS).
        newest = {"batch_predictions": {origin_partitions.get_last_partition_key()}}
        assert world.automation() == newest
        execute_requested(world.env, newest)
    assert world.automation() == {}
    assert world.tick() == []

    after = read_stored(world.env.storage, "quarterly_panel", Q3).set_index("sector")["bankruptcies"]
    old = before.set_index("sector")["bankruptcies"]
    assert after.loc[1] != old.loc[1]  # sector 1 = KONK25 group A, the revised cell
    pd.testing.assert_series_equal(after.drop(1), old.drop(1))
    forecasts_after = world.env.instance.get_latest_materialization_event(dg.AssetKey("forecasts")).run_id
    assert forecasts_after != forecasts_before
