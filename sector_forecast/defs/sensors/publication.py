"""The publication sensor: watch StatBank's `tables` entries and re-pull exactly what DST changed.

Each tick asks `tables` for KONK25, KONK4 and DEMO14 in one request, through the same client and base URL
as the raw assets. A table whose `updated` stamp moved has its recent window pulled and hashed per period
(`releases.diff_table`): new periods and periods whose content changed become raw-partition run requests,
one single-run range per block of neighbouring partitions. Declarative automation then carries those
partitions downstream (`sector_forecast.defs.automation`). A closed table is reported (sensor message and a
failed WARN check naming the successor) and never pulled again.

Anything wrong with the server — unreachable, HTTP errors, HTML, garbage, a self-contradicting answer —
skips the tick with the reason and keeps the cursor, so the next healthy tick sees the same change.
"""

import json

import dagster as dg

from sector_forecast.defs.freshness import TABLE_ACTIVE_CHECK
from sector_forecast.defs.jobs import demo14_job, konk4_job, konk25_job
from sector_forecast.defs.partitions import (
    RANGE_END,
    RANGE_START,
    konk4_monthly_partitions,
    monthly_partitions,
    yearly_partitions,
)
from sector_forecast.defs.resources import StatBankResource
from sector_forecast.domain import releases as rel
from sector_forecast.statbank import StatBankClient, StatBankError

SENSOR_NAME = "statbank_publication_sensor"
TRIGGER_TAG = "sector_forecast/trigger"
TABLE_TAG = "sector_forecast/statbank_table"
PARTITIONS: dict[str, dg.TimeWindowPartitionsDefinition] = {
    "konk25_raw": monthly_partitions,
    "konk4_raw": konk4_monthly_partitions,
    "demo14_raw": yearly_partitions,
}


def _materialised_latest(instance: dg.DagsterInstance, watch: rel.WatchedTable) -> str | None:
    """Newest partition of the raw asset the instance holds, as a DST period (first look only)."""
    keys = instance.get_materialized_partitions(dg.AssetKey(watch.asset))
    return rel.key_to_period(watch, max(keys)) if keys else None


def _pull_hashes(client: StatBankClient, watch: rel.WatchedTable, latest: str) -> dict[str, str]:
    frame = client.data(
        watch.table, {**watch.selection, "Tid": [f">={watch.window_start(latest)}<={latest}"]}
    )
    return rel.period_hashes(frame)


def run_requests_for(watch: rel.WatchedTable, change: rel.TableChange, updated: str) -> list[dg.RunRequest]:
    """One run per block of neighbouring partitions (a single-run range), keyed so a retry is idempotent."""
    partitions_def = PARTITIONS[watch.asset]
    all_keys = partitions_def.get_partition_keys()
    wanted = [rel.period_to_key(watch, p) for p in change.periods]
    requests = []
    for start, end in rel.contiguous_ranges(wanted, all_keys):
        new = all(rel.key_to_period(watch, k) in change.new_periods for k in (start, end))
        tags = {TRIGGER_TAG: "publication" if new else "revision", TABLE_TAG: watch.table}
        run_key = f"{watch.table}@{updated}:{start}..{end}"
        if start == end:
            requests.append(
                dg.RunRequest(run_key=run_key, job_name=watch.job, partition_key=start, tags=tags))
        else:
            requests.append(dg.RunRequest(
                run_key=run_key, job_name=watch.job, tags={**tags, RANGE_START: start, RANGE_END: end}))
    return requests


def closure_check(watch: rel.WatchedTable, meta: dict, successor: str | None) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(watch.asset), check_name=TABLE_ACTIVE_CHECK, passed=False,
        severity=dg.AssetCheckSeverity.WARN, description=rel.closure_message(watch.table, meta, successor),
        metadata={"table": watch.table, "latest_period": str(meta["latestPeriod"]),
                  "updated": str(meta["updated"]), "successor": successor or "-"},
    )


def observation(watch: rel.WatchedTable, meta: dict) -> dg.AssetObservation:
    """The table's `tables` entry on the raw asset's Observations tab (does not trigger automation)."""
    return dg.AssetObservation(
        asset_key=watch.asset,
        metadata={"statbank_table": watch.table, "statbank_updated": str(meta["updated"]),
                  "statbank_latest_period": str(meta["latestPeriod"]),
                  "statbank_active": bool(meta["active"])},
    )


def evaluate_tick(
    client: StatBankClient, cursor: str | None, instance: dg.DagsterInstance
) -> tuple[list[dg.RunRequest], list, list[str], str]:
    """One look at StatBank: run requests, asset events, one message line per table, the new cursor.

    Raises `StatBankError` / `ReleaseAnomaly` when the server is unreachable or misbehaves; the caller
    then keeps the old cursor.
    """
    memory = rel.load_memory(json.loads(cursor) if cursor else None)
    metas = {m["id"].upper(): m for m in client.tables([w.table for w in rel.WATCHED])}
    requests: list[dg.RunRequest] = []
    events: list = []
    lines: list[str] = []
    new_memory: dict[str, rel.TableMemory] = {}
    for watch in rel.WATCHED:
        meta, before = metas[watch.table], memory.get(watch.table)
        for key in ("updated", "latestPeriod", "active"):
            if key not in meta:
                raise rel.ReleaseAnomaly(f"{watch.table}: tables entry lacks {key!r}")
        pull = bool(meta["active"]) and rel.needs_pull(before, meta)
        hashes = _pull_hashes(client, watch, str(meta["latestPeriod"])) if pull else None
        baseline = _materialised_latest(instance, watch) if before is None else None
        change, new_memory[watch.table] = rel.diff_table(watch, before, meta, hashes, baseline)
        if before is None or (before.updated, before.latest, before.active) != (
                str(meta["updated"]), str(meta["latestPeriod"]), bool(meta["active"])):
            events.append(observation(watch, meta))
        if not meta["active"]:
            successor = watch.successor
            if change.newly_closed:
                successor = rel.successor_from_info(client.tableinfo(watch.table), watch.successor)
                events.append(closure_check(watch, meta, successor))
            lines.append(rel.closure_message(watch.table, meta, successor))
            continue
        table_requests = run_requests_for(watch, change, str(meta["updated"]))
        requests += table_requests
        lines.append(_describe(watch, change, meta, table_requests))
    return requests, events, lines, json.dumps(rel.dump_memory(new_memory), sort_keys=True)


def _describe(watch: rel.WatchedTable, change: rel.TableChange, meta: dict, requests: list) -> str:
    if not change.periods:
        return (f"{watch.table}: nothing new (updated {meta['updated']}, latest {meta['latestPeriod']})"
                + (f" — {change.note}" if change.note else ""))
    parts = []
    if change.new_periods:
        parts.append(f"new {', '.join(change.new_periods)}")
    if change.revised_periods:
        parts.append(f"revised {', '.join(change.revised_periods)}")
    return f"{watch.table}: {'; '.join(parts)} → {len(requests)} {watch.asset} run(s)"


@dg.sensor(
    name=SENSOR_NAME,
    jobs=[konk25_job, konk4_job, demo14_job],
    # DST publishes at 08:00 on its release days with no advance signal in the API, and documents no rate
    # limit: one `tables` request of ~1 KB every 10 s (Dagster's default is 30 s) puts a release in the
    # graph within seconds; each poll that finds nothing costs one request and no run.
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Polls StatBank's `tables` entries (updated, latestPeriod, active) for KONK25, KONK4 and "
    "DEMO14. New periods and revised periods (content hashes of the recent window) become raw-partition "
    "runs; automation carries them downstream. Closed tables are reported, not polled. A failing server "
    "skips the tick and keeps the cursor.",
)
def statbank_publication_sensor(
    context: dg.SensorEvaluationContext, statbank: StatBankResource
) -> dg.SensorResult | dg.SkipReason:
    client = statbank.get_client()
    try:
        requests, events, lines, cursor = evaluate_tick(client, context.cursor, context.instance)
    except (StatBankError, rel.ReleaseAnomaly) as err:
        return dg.SkipReason(
            f"StatBank at {client.source} is unreachable or misbehaving — {err}. Nothing requested; the "
            "cursor is kept, so the next healthy tick sees the same change."
        )
    finally:
        client.close()
    summary = " | ".join(lines)
    if requests:
        context.log.info(summary)
        return dg.SensorResult(run_requests=requests, cursor=cursor, asset_events=events)
    return dg.SensorResult(skip_reason=dg.SkipReason(summary), cursor=cursor, asset_events=events)
