"""The pure logic behind the sensors and the automation conditions: hashes, diffs, rhythm, shortcut deps."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from sector_forecast.defs.automation import shortcut_deps
from sector_forecast.domain import releases as rel

KONK25 = rel.WATCHED_BY_TABLE["KONK25"]
DEMO14 = rel.WATCHED_BY_TABLE["DEMO14"]


def _frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["BRANCHE25", "TID", "INDHOLD"]).assign(
        VIRKTYP1="K02", suppressed=lambda d: d["INDHOLD"].isna())


def test_period_hashes_ignore_row_order_and_see_every_cell_and_suppression() -> None:
    rows = [("A", "2026M08", 3.0), ("F", "2026M08", 20.0), ("A", "2026M09", 4.0)]
    base = rel.period_hashes(_frame(rows))
    assert base == rel.period_hashes(_frame(rows[::-1]))
    assert set(base) == {"2026M08", "2026M09"}
    revised = rel.period_hashes(_frame([("A", "2026M08", 5.0), *rows[1:]]))
    assert revised["2026M08"] != base["2026M08"] and revised["2026M09"] == base["2026M09"]
    suppressed = rel.period_hashes(_frame([("A", "2026M08", np.nan), *rows[1:]]))
    assert suppressed["2026M08"] not in (base["2026M08"], revised["2026M08"])


def _meta(latest: str, updated: str = "2026-10-07T08:00:00", active: bool = True) -> dict:
    return {"latestPeriod": latest, "updated": updated, "active": active}


def test_diff_names_new_and_revised_periods_only() -> None:
    memory = rel.TableMemory("2026-10-07T08:00:00", "2026M09", True, {"2026M08": "a", "2026M09": "b"})
    change, new = rel.diff_table(KONK25, memory, _meta("2026M10", "2026-11-07T08:00:00"),
                                 {"2026M08": "x", "2026M09": "b", "2026M10": "c"})
    assert (change.new_periods, change.revised_periods) == (["2026M10"], ["2026M08"])
    assert (new.latest, new.updated, new.hashes["2026M10"]) == ("2026M10", "2026-11-07T08:00:00", "c")
    same, _ = rel.diff_table(KONK25, memory, _meta("2026M09", "2026-10-08T08:00:00"),
                             {"2026M08": "a", "2026M09": "b"})
    assert same.periods == [] and "unchanged" in same.note


def test_first_look_counts_periods_after_what_the_instance_holds() -> None:
    hashes = {"2026M08": "a", "2026M09": "b", "2026M10": "c"}
    change, _ = rel.diff_table(KONK25, None, _meta("2026M10"), hashes, materialised_latest="2026M09")
    assert change.new_periods == ["2026M10"]
    empty_instance, _ = rel.diff_table(KONK25, None, _meta("2026M10"), hashes, materialised_latest=None)
    assert empty_instance.periods == []  # history is a backfill's job, not the sensor's


def test_a_closed_table_is_reported_once_and_never_needs_data() -> None:
    change, memory = rel.diff_table(KONK25, None, _meta("2025M12", active=False), None)
    assert change.newly_closed and memory.active is False
    again, _ = rel.diff_table(KONK25, memory, _meta("2025M12", active=False), None)
    assert not again.newly_closed and again.periods == []
    assert not rel.needs_pull(rel.TableMemory("u", "2026M09", True), _meta("2026M09", "u"))
    assert rel.needs_pull(rel.TableMemory("u", "2026M09", True), _meta("2026M09", "v"))


@pytest.mark.parametrize(
    ("meta", "hashes", "message"),
    [(_meta("2026M08"), {"2026M08": "a"}, "went back"), (_meta("2026-10"), {}, "not a month code"),
     (_meta("2026M10"), {"2026M09": "b"}, "no data has it")],
)
def test_self_contradicting_answers_are_anomalies(meta: dict, hashes: dict, message: str) -> None:
    memory = rel.TableMemory("2026-10-07T08:00:00", "2026M09", True, {"2026M09": "b"})
    with pytest.raises(rel.ReleaseAnomaly, match=message):
        rel.diff_table(KONK25, memory, meta, hashes)


def test_cursor_round_trip_and_unknown_versions() -> None:
    memory = {"KONK25": rel.TableMemory("u", "2026M09", True, {"2026M09": "b"})}
    assert rel.load_memory(rel.dump_memory(memory)) == memory
    assert rel.load_memory({"v": 0}) == {} and rel.load_memory(None) == {}


def test_windows_partition_keys_and_ranges() -> None:
    assert KONK25.window_start("2026M09") == "2023M10"
    assert DEMO14.window_start("2023") == "2012"
    assert rel.period_to_key(KONK25, "2026M10") == "2026-10-01" and rel.key_to_period(KONK25, "2026-10-01") == "2026M10"
    keys = ["2026-06-01", "2026-07-01", "2026-08-01", "2026-09-01", "2026-10-01"]
    assert rel.contiguous_ranges(["2026-10-01", "2026-06-01", "2026-09-01", "2099-01-01"], keys) == [
        ("2026-06-01", "2026-06-01"), ("2026-09-01", "2026-10-01")]


def test_successor_is_read_from_the_footnote() -> None:
    assert rel.successor_from_info({"footnote": "Discontinued, replaced by KONK26."}, None) == "KONK26"
    assert rel.successor_from_info({"footnote": None}, "KONK25") == "KONK25"


@pytest.mark.parametrize(
    ("frequency", "now", "expected", "deadline"),
    [("month", "2026-11-25T12:00", "2026M10", "2026-11-10"), ("month", "2026-11-10T10:00", "2026M09", "2026-10-10"),
     ("month", "2026-01-05T12:00", "2025M11", "2025-12-10"), ("year", "2026-11-25T12:00", "2024", "2026-06-30"),
     ("year", "2026-06-01T12:00", "2023", "2025-06-30")],
)
def test_expected_latest_period_follows_dsts_rhythm(frequency: str, now: str, expected: str, deadline: str) -> None:
    period, due = rel.expected_latest_period(frequency, datetime.fromisoformat(now).replace(tzinfo=UTC))
    assert (period, f"{due:%Y-%m-%d}") == (expected, deadline)


def test_shortcut_deps_are_deps_reached_through_another_dep() -> None:
    deps = {"panel": {"raw"}, "features": {"panel"}, "fit": {"features"}, "board": {"fit"},
            "champion": {"board", "fit"}, "forecasts": {"champion", "features", "panel", "fit"}}
    shortcuts = shortcut_deps(deps)
    assert shortcuts["forecasts"] == {"features", "panel", "fit"}
    assert shortcuts["champion"] == {"fit"}
    assert shortcuts["features"] == set() and shortcuts["board"] == set()


def test_every_asset_below_the_raw_tables_carries_the_condition_and_the_sensors_are_on() -> None:
    import dagster as dg

    from sector_forecast.defs.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name == "raw":
            assert node.automation_condition is None, key  # the publication sensor owns them
        elif key.to_user_string() == "batch_predictions":  # logs what is served: the newest origin only
            assert node.automation_condition.get_label() == "newest_origin_follows_champion"
        else:
            assert node.automation_condition.get_label() == "eager_with_revisions", key
    sensors = {s.name: s for s in defs.sensors}
    for name in ("sector_forecast_automation", "statbank_publication_sensor", "dst_freshness_sensor"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING
    assert {s.name: s.cron_schedule for s in defs.schedules}["quarterly_safety_net"] == "0 9 10 2,5,8,11 *"
