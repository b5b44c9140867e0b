"""One "now" for the code location: `SECTOR_FORECAST_NOW` moves partitions' ends, freshness and schedules together.

Partition definitions are built at import, so the override's effect on them is checked in fresh interpreters
(the real definitions loaded); the sensors and schedules are evaluated in-process under `partitions.pinned`.
The expected values do not depend on the wall clock, so these tests pass at any date (CI runs them under
faketime too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import dagster as dg
import pytest

from sector_forecast import clock
from sector_forecast.defs import partitions
from sector_forecast.defs.freshness import dst_freshness_sensor
from sector_forecast.defs.partitions import RANGE_END, RANGE_START
from sector_forecast.defs.sensors.schedules import quarterly_safety_net
from sector_forecast_tests.automation.conftest import schedule_tick
from sector_forecast_tests.conftest import GraphEnv, make_graph_env
from sector_forecast_tests.statbank_server import ServerHandle

NAMES = ("monthly_partitions", "konk4_monthly_partitions", "yearly_partitions", "quarterly_partitions",
         "origin_partitions")
PROBE = f"""
import json
from sector_forecast import clock
from sector_forecast.defs import partitions
from sector_forecast.defs import partitions
from sector_forecast.defs.definitions import defs

graph = defs.resolve_asset_graph()  # the real definitions load with these ends
panel = graph.get(__import__("dagster").AssetKey("quarterly_panel")).partitions_def
print(json.dumps({{"now": clock.now().isoformat(), "panel": panel.get_last_partition_key(),
                  "last": [getattr(partitions, n).get_last_partition_key() for n in {NAMES!r}]}}))
"""


def probe(override: str | None) -> dict:
    """Last partition keys and `clock.now()` in a fresh interpreter started with (or without) the override."""
    env = {k: v for k, v in os.environ.items() if k != clock.ENV_VAR}
    if override is not None:
        env[clock.ENV_VAR] = override
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("override", "last"),
    [
        # A past date: replaying May 2025 (mid-quarter).
        ("2025-05-20T10:00", ["2025-04-01", "2025-04-01", "2024", "2025-01-01", "2025-01-01"]),
        # Exactly a year turn: the end is exclusive, so 2026Q4 and 2026 (ending at midnight) exist.
        ("2027-01-01", ["2026-12-01", "2025-12-01", "2026", "2026-10-01", "2026-10-01"]),
        # Ahead of any wall clock this suite runs at (Dagster alone would stop at the wall clock: end_offset).
        ("2031-02-03T08:00+01:00", ["2031-01-01", "2025-12-01", "2030", "2030-10-01", "2030-10-01"]),
    ],
)
def test_the_override_ends_every_partitions_definition(override: str, last: list[str]) -> None:
    seen = probe(override)
    assert seen["now"] == clock.parse(override).isoformat()
    assert seen["last"] == last
    assert seen["panel"] == last[3]


@pytest.mark.skipif(clock.override() is not None, reason=f"this session runs with {clock.ENV_VAR} set")
def test_without_the_override_partitions_follow_the_wall_clock() -> None:
    from sector_forecast.defs import partitions

    seen = probe(None)
    assert abs(datetime.fromisoformat(seen["now"]) - clock.wall()) < timedelta(minutes=5)
    assert seen["last"] == [getattr(partitions, n).get_last_partition_key() for n in NAMES]


def test_parse_accepts_dates_and_datetimes_and_names_the_variable_when_it_cannot() -> None:
    assert clock.parse("2027-01-05") == datetime(2027, 1, 5, tzinfo=UTC)
    assert clock.parse(" 2027-01-05 10:00 ") == datetime(2027, 1, 5, 10, tzinfo=UTC)
    assert clock.parse("2027-01-05T10:00+01:00") == datetime(2027, 1, 5, 9, tzinfo=UTC)
    assert clock.parse("2027-01-05T10:00Z").tzinfo == UTC
    with pytest.raises(ValueError, match=clock.ENV_VAR):
        clock.parse("5 January 2027")


def test_pinned_moves_now_and_partitions_and_restores_both() -> None:
    from sector_forecast.defs.partitions import origin_partitions

    before = os.environ.get(clock.ENV_VAR)
    tick = datetime(2026, 11, 10, 9, tzinfo=timezone(timedelta(hours=2)))
    with partitions.pinned("2022-08-15") as moment:
        assert clock.now() == moment == datetime(2022, 8, 15, tzinfo=UTC)
        assert clock.now(tick) == moment  # the override beats a schedule's tick time
        assert os.environ[clock.ENV_VAR] == moment.isoformat()  # inherited by processes started here
        assert origin_partitions.get_last_partition_key() == "2022-04-01"
    assert os.environ.get(clock.ENV_VAR) == before
    if before is None:
        assert clock.now(tick) == datetime(2026, 11, 10, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "konk25", "demo14"),
    [("2027-01-05T10:00", "2026M11 was due by 2026-12-10", "2024 was due by 2026-06-30"),
     ("2027-07-01T12:00", "2027M05 was due by 2027-06-10", "2025 was due by 2027-06-30")],
)
def test_the_freshness_sensor_judges_against_the_code_locations_now(
    tmp_path, at: str, konk25: str, demo14: str
) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance, partitions.pinned(at):
        with dg.build_sensor_context(instance=instance) as context:
            result = dst_freshness_sensor(context)
    descriptions = {e.asset_key.to_user_string(): e.description for e in result.asset_events}
    assert konk25 in descriptions["konk25_raw"] and demo14 in descriptions["demo14_raw"]


def test_a_safety_net_replaying_a_past_date_requests_only_what_existed_then(
    statbank: ServerHandle, tmp_path
) -> None:
    statbank.reset()
    env: GraphEnv = make_graph_env(tmp_path, statbank.url)
    with partitions.pinned("2025-05-20T10:00"):
        (request,) = schedule_tick(env, quarterly_safety_net)  # its tick says 2026-11-10; the override wins
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2009-01-01", "2025-04-01")
