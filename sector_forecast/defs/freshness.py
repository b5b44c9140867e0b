"""Freshness of the raw tables against DST's release rhythm, and whether each table is still alive.

Two checks per raw asset, both non-blocking WARNs (a late DST release is not a broken pipeline):

- `dst_release_freshness` (KONK25, DEMO14): is the newest period DST should have published by now
  materialised? KONK25 month M is due by the 10th of M+1, DEMO14 year Y by 30 June of Y+2
  (`releases.expected_latest_period`). Per partition, unlike `FreshnessPolicy`, which only looks at the
  latest materialisation of any partition (a revision of an old month would look "fresh").
- `statbank_table_active` (all three): fails, naming the successor, when the table's last pull recorded
  `active: false` (KONK4 since 2026-01-07). The publication sensor reports a closure it sees between pulls.

Both run with every raw job (they target the raw assets) and are re-evaluated by `dst_freshness_sensor`
whenever a deadline passes, without launching a run.
"""

import json
from datetime import datetime

import dagster as dg

from sector_forecast import clock
from sector_forecast.domain import releases as rel

FRESHNESS_CHECK = "dst_release_freshness"
TABLE_ACTIVE_CHECK = "statbank_table_active"
FRESHNESS_SENSOR_NAME = "dst_freshness_sensor"
FRESHNESS_TABLES = ("KONK25", "DEMO14")


def freshness_status(instance: dg.DagsterInstance, watch: rel.WatchedTable, now: datetime) -> dict:
    """Is the period DST should have published by `now` (or a later one) materialised? Plain values."""
    expected, deadline = rel.expected_latest_period(watch.frequency, now)
    keys = instance.get_materialized_partitions(dg.AssetKey(watch.asset))
    latest = rel.key_to_period(watch, max(keys)) if keys else None
    passed = latest is not None and latest >= expected
    due = f"{expected} was due by {deadline:%Y-%m-%d %H:%M} Copenhagen ({watch.due_rule})"
    description = (
        f"{watch.table} is fresh: {due}; materialised through {latest}." if passed else
        f"{watch.table} is overdue: {due}, but {watch.asset} holds "
        f"{'nothing' if latest is None else 'only up to ' + latest}. Check that DST has published it "
        "(`sector-forecast statbank status`) and that statbank_publication_sensor is running."
    )
    return {"passed": passed, "expected": expected, "deadline": deadline, "latest": latest,
            "description": description}


def freshness_result(
    instance: dg.DagsterInstance, watch: rel.WatchedTable, now: datetime
) -> dg.AssetCheckResult:
    status = freshness_status(instance, watch, now)
    return dg.AssetCheckResult(
        asset_key=watch.asset, check_name=FRESHNESS_CHECK, passed=status["passed"],
        severity=dg.AssetCheckSeverity.WARN, description=status["description"],
        metadata={"expected_period": status["expected"],
                  "deadline": dg.MetadataValue.timestamp(status["deadline"]),
                  "latest_materialised_period": status["latest"] or "-", "rule": watch.due_rule},
    )


def table_active_result(instance: dg.DagsterInstance, watch: rel.WatchedTable) -> dg.AssetCheckResult:
    """Read `table_active` from the raw asset's latest materialisation (recorded from `tables`)."""
    event = instance.get_latest_materialization_event(dg.AssetKey(watch.asset))
    materialization = event.asset_materialization if event else None
    md = materialization.metadata if materialization else {}
    active_value = md.get("table_active")
    active = bool(active_value.value) if active_value is not None else True
    meta = {"latestPeriod": _text(md.get("table_latest_period")), "updated": _text(md.get("table_updated"))}
    return dg.AssetCheckResult(
        asset_key=watch.asset, check_name=TABLE_ACTIVE_CHECK, passed=active,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{watch.table} is active at StatBank (last pull: updated {meta['updated']})." if active
                     else rel.closure_message(watch.table, meta, watch.successor)),
        metadata={"table": watch.table, "successor": watch.successor or "-", **meta},
    )


def _text(value: object) -> str:
    return str(getattr(value, "value", value)) if value is not None else "?"


@dg.multi_asset_check(
    name="dst_release_freshness_checks",
    specs=[
        dg.AssetCheckSpec(FRESHNESS_CHECK, asset=rel.WATCHED_BY_TABLE[t].asset,
                          description=f"{t}: is the newest period due by DST's release rhythm materialised? "
                          f"({rel.WATCHED_BY_TABLE[t].due_rule})")
        for t in FRESHNESS_TABLES
    ],
    can_subset=True,
)
def dst_release_freshness_checks(context: dg.AssetCheckExecutionContext):
    now = clock.now()
    for key in context.selected_asset_check_keys:
        watch = next(w for w in rel.WATCHED if w.asset == key.asset_key.to_user_string())
        yield freshness_result(context.instance, watch, now)


@dg.multi_asset_check(
    name="statbank_table_active_checks",
    specs=[
        dg.AssetCheckSpec(TABLE_ACTIVE_CHECK, asset=w.asset,
                          description=f"Is {w.table} still active at StatBank? A closed table answers but "
                          "never moves again; the check names its successor.")
        for w in rel.WATCHED
    ],
    can_subset=True,
)
def statbank_table_active_checks(context: dg.AssetCheckExecutionContext):
    for key in context.selected_asset_check_keys:
        watch = next(w for w in rel.WATCHED if w.asset == key.asset_key.to_user_string())
        yield table_active_result(context.instance, watch)


FRESHNESS_CHECKS: list[dg.AssetChecksDefinition] = [
    dst_release_freshness_checks, statbank_table_active_checks,
]


def _as_evaluation(result: dg.AssetCheckResult) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(result.asset_key) if isinstance(result.asset_key, str) else result.asset_key,
        check_name=result.check_name, passed=result.passed, severity=result.severity,
        description=result.description, metadata=result.metadata,
    )


@dg.sensor(
    name=FRESHNESS_SENSOR_NAME,
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-evaluates dst_release_freshness for KONK25 and DEMO14 against DST's release rhythm and "
    "records the result on the raw assets' Checks tab whenever it changes (no run is launched).",
)
def dst_freshness_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    now = clock.now()
    seen = json.loads(context.cursor) if context.cursor else {}
    events, state, lines = [], {}, []
    for table in FRESHNESS_TABLES:
        watch = rel.WATCHED_BY_TABLE[table]
        status = freshness_status(context.instance, watch, now)
        state[table] = [status["passed"], status["expected"], status["latest"]]
        lines.append(status["description"])
        if seen.get(table) != state[table]:
            events.append(_as_evaluation(freshness_result(context.instance, watch, now)))
    return dg.SensorResult(
        skip_reason=dg.SkipReason(" | ".join(lines)), cursor=json.dumps(state), asset_events=events
    )
