"""The publication sensor against a real local StatBank server: what one tick requests, skips and reports.

Each test starts from the bundled snapshot (KONK25 to 2026M09, DEMO14 to 2023, KONK4 closed) and an empty
instance: the first tick records the baseline, the second sees what the test made the server do.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from sector_forecast import clock
from sector_forecast.defs.freshness import TABLE_ACTIVE_CHECK, dst_freshness_sensor
from sector_forecast.defs.partitions import RANGE_END, RANGE_START
from sector_forecast.defs.sensors.publication import TRIGGER_TAG
from sector_forecast.defs.sensors.schedules import demo14_yearly_safety_net, quarterly_safety_net
from sector_forecast.domain.releases import expected_latest_period
from sector_forecast_tests.automation.conftest import schedule_tick, sensor_tick, with_freshness_checks
from sector_forecast_tests.conftest import GraphEnv, make_graph_env
from sector_forecast_tests.statbank_server import ServerHandle

K25_A_AUG = {"BRANCHE25": "A", "VIRKTYP1": "K02", "Tid": "2026M08"}


@pytest.fixture
def server(statbank: ServerHandle) -> ServerHandle:
    statbank.reset()
    return statbank


@pytest.fixture
def env(server: ServerHandle, tmp_path: Path) -> GraphEnv:
    env = make_graph_env(tmp_path, server.url)
    env.defs = with_freshness_checks(env.defs)
    return env


def _baseline(env: GraphEnv) -> str:
    first = sensor_tick(env, None)
    assert isinstance(first, dg.SensorResult) and not first.run_requests and first.cursor
    return first.cursor


def _runs(result) -> list[tuple[str, str | None, str]]:
    assert isinstance(result, dg.SensorResult), result
    return [(r.job_name, r.partition_key, r.tags[TRIGGER_TAG]) for r in result.run_requests or []]


def test_first_tick_records_a_baseline_and_reports_the_closed_konk4(env: GraphEnv) -> None:
    result = sensor_tick(env, None)
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    message = result.skip_reason.skip_message
    assert "KONK4 is closed by DST" in message and "successor KONK25" in message
    assert "KONK25: nothing new" in message and "DEMO14: nothing new" in message
    checks = [e for e in result.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
    assert [(c.asset_key.to_user_string(), c.check_name, c.passed) for c in checks] == [
        ("konk4_raw", TABLE_ACTIVE_CHECK, False)]
    assert checks[0].severity == dg.AssetCheckSeverity.WARN and "KONK25" in checks[0].description
    memory = json.loads(result.cursor)["tables"]
    assert memory["KONK25"]["latest"] == "2026M09" and len(memory["KONK25"]["hashes"]) == 36
    assert memory["KONK4"] == {"updated": "2026-01-07T08:00:00", "latest": "2025M12", "active": False,
                               "hashes": {}}  # a closed table is never pulled
    observed = {e.asset_key.to_user_string() for e in result.asset_events
                if isinstance(e, dg.AssetObservation)}
    assert observed == {"konk25_raw", "konk4_raw", "demo14_raw"}


@pytest.mark.parametrize(
    ("table", "job", "partition"), [("KONK25", "konk25_job", "2026-10-01"), ("DEMO14", "demo14_job", "2024")]
)
def test_a_new_period_requests_exactly_its_partition(
    env: GraphEnv, server: ServerHandle, table: str, job: str, partition: str
) -> None:
    cursor = _baseline(env)
    server.publish(table)
    result = sensor_tick(env, cursor)
    assert _runs(result) == [(job, partition, "publication")]
    assert not result.asset_events or all(isinstance(e, dg.AssetObservation) for e in result.asset_events)
    again = sensor_tick(env, result.cursor)  # the cursor moved: the same publication is not requested twice
    assert _runs(again) == []


def test_a_revision_requests_only_the_revised_month(env: GraphEnv, server: ServerHandle) -> None:
    cursor = _baseline(env)
    server.revise("KONK25", K25_A_AUG, 99)
    result = sensor_tick(env, cursor)
    assert _runs(result) == [("konk25_job", "2026-08-01", "revision")]


def test_a_new_month_and_an_older_revision_are_separate_runs(env: GraphEnv, server: ServerHandle) -> None:
    cursor = _baseline(env)
    server.revise("KONK25", {**K25_A_AUG, "Tid": "2025M02"}, 77)
    server.publish("KONK25")
    result = sensor_tick(env, cursor)
    assert sorted(_runs(result)) == [("konk25_job", "2025-02-01", "revision"),
                                     ("konk25_job", "2026-10-01", "publication")]


def test_updated_without_a_content_change_requests_nothing(env: GraphEnv, server: ServerHandle) -> None:
    cursor = _baseline(env)
    current = env.client.data("KONK25", {"BRANCHE25": ["A"], "VIRKTYP1": ["K02"], "Tid": ["2026M08"]})
    server.revise("KONK25", K25_A_AUG, float(current["INDHOLD"].iloc[0]))  # same value, new `updated`
    result = sensor_tick(env, cursor)
    assert _runs(result) == []
    assert "content of 36 periods unchanged" in result.skip_reason.skip_message
    assert json.loads(result.cursor)["tables"]["KONK25"]["updated"] != json.loads(cursor)["tables"]["KONK25"][
        "updated"]


@pytest.mark.parametrize(("mode", "count"), [("down", 2), ("500", 2), ("html", 1), ("garbage", 1),
                                             ("truncated", 1)])
def test_a_failing_server_skips_the_tick_and_keeps_the_cursor(
    env: GraphEnv, server: ServerHandle, mode: str, count: int
) -> None:
    cursor = _baseline(env)
    server.publish("KONK25")
    server.fault(mode, count=count)  # the resource retries once: `down`/`500` cost two attempts
    result = sensor_tick(env, cursor)
    assert isinstance(result, dg.SkipReason), result
    assert "unreachable or misbehaving" in result.skip_message and "cursor is kept" in result.skip_message
    assert "KONK25" in result.skip_message or "StatBank" in result.skip_message
    assert env.instance.get_runs() == []
    healthy = sensor_tick(env, cursor)  # same cursor: the publication is still seen
    assert _runs(healthy) == [("konk25_job", "2026-10-01", "publication")]


def test_a_closed_table_is_reported_with_its_successor_and_not_polled(
    env: GraphEnv, server: ServerHandle
) -> None:
    cursor = _baseline(env)
    server.close("KONK25", successor="KONK26")
    result = sensor_tick(env, cursor)
    assert _runs(result) == []
    checks = [e for e in result.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
    assert [(c.asset_key.to_user_string(), c.passed) for c in checks] == [("konk25_raw", False)]
    assert "successor KONK26" in checks[0].description
    assert "KONK25 is closed by DST" in result.skip_reason.skip_message
    server.publish("KONK25")  # a closed table that still moves is not polled as if it were alive
    later = sensor_tick(env, result.cursor)
    assert _runs(later) == []
    assert not [e for e in later.asset_events if isinstance(e, dg.AssetCheckEvaluation)]  # reported once


def test_the_safety_nets_pull_what_is_published_but_missing(env: GraphEnv, server: ServerHandle) -> None:
    (request,) = schedule_tick(env, quarterly_safety_net)
    assert (request.job_name, request.tags[RANGE_START], request.tags[RANGE_END]) == (
        "konk25_job", "2009-01-01", "2026-09-01")
    assert request.tags[TRIGGER_TAG] == "safety_net"
    (demo,) = schedule_tick(env, demo14_yearly_safety_net)
    assert (demo.job_name, demo.tags[RANGE_START], demo.tags[RANGE_END]) == ("demo14_job", "2019", "2023")
    server.close("DEMO14", successor="DEMO15")
    closed = schedule_tick(env, demo14_yearly_safety_net)
    assert isinstance(closed, dg.SkipReason) and "successor DEMO15" in closed.skip_message


def test_the_freshness_sensor_reports_overdue_tables_once(env: GraphEnv) -> None:
    with dg.build_sensor_context(instance=env.instance) as context:
        first = dst_freshness_sensor(context)
    evaluations = {e.asset_key.to_user_string(): e for e in first.asset_events}
    assert set(evaluations) == {"konk25_raw", "demo14_raw"}
    assert not any(e.passed for e in evaluations.values())  # an empty instance holds nothing DST published
    for asset, frequency in (("konk25_raw", "month"), ("demo14_raw", "year")):
        period, deadline = expected_latest_period(frequency, clock.now())  # e.g. 2026M10 / 2024 on 2026-11-25
        assert f"{period} was due by {deadline:%Y-%m-%d}" in evaluations[asset].description
    with dg.build_sensor_context(instance=env.instance, cursor=first.cursor) as context:
        again = dst_freshness_sensor(context)
    assert again.asset_events == []  # nothing changed: nothing recorded again
