"""Safety-net schedules on DST's release calendar, for when the publication sensor was off or a run failed.

- `quarterly_safety_net`: 10 February, May, August and November, 09:00 UTC — a few days after DST has
  published a quarter's third KONK25 month (the reference design's calendar). It requests every KONK25
  month that StatBank has published but the instance does not hold, plus the just-completed quarter's
  three months when that quarter never reached `quarterly_panel` (e.g. its automation run failed).
- `demo14_yearly_safety_net`: 1 July, 09:00 UTC — after DEMO14's mid-June release; DEMO14 years that are
  published but missing.

Both only re-pull raw partitions; automation carries them downstream. When nothing is missing they skip,
so a healthy sensor makes them no-ops ("nothing re-runs when nothing changed").
"""

from collections.abc import Sequence
from datetime import datetime

import dagster as dg

from sector_forecast import clock
from sector_forecast.defs.partitions import RANGE_END, RANGE_START, quarterly_partitions
from sector_forecast.defs.resources import StatBankResource
from sector_forecast.defs.sensors.publication import PARTITIONS, TRIGGER_TAG
from sector_forecast.domain import releases as rel
from sector_forecast.domain.periods import quarter_month_starts
from sector_forecast.statbank import StatBankError

QUARTERLY_CRON = "0 9 10 2,5,8,11 *"
DEMO14_CRON = "0 9 1 7 *"


def missing_published(all_keys: Sequence[str], materialised: set[str], latest_key: str) -> list[str]:
    """Partition keys up to DST's latest period that the instance does not hold."""
    return [k for k in all_keys if k <= latest_key and k not in materialised]


def quarter_months_keys(quarter_key: str) -> list[str]:
    """`2026-07-01` -> the three month keys of that quarter."""
    return quarter_month_starts(quarter_key)


def catch_up_requests(
    instance: dg.DagsterInstance, statbank: StatBankResource, watch: rel.WatchedTable, now: datetime
) -> list[dg.RunRequest] | dg.SkipReason:
    """Run requests for the raw partitions this safety net should (re-)pull, or why there are none."""
    client = statbank.get_client()
    try:
        meta = client.table_meta(watch.table)
        if not meta["active"]:
            successor = rel.successor_from_info(client.tableinfo(watch.table), watch.successor)
            return dg.SkipReason(rel.closure_message(watch.table, meta, successor))
    except StatBankError as err:
        return dg.SkipReason(f"{watch.table}: StatBank at {client.source} unreachable or misbehaving — {err}")
    finally:
        client.close()
    partitions_def = PARTITIONS[watch.asset]
    all_keys = partitions_def.get_partition_keys(current_time=now)
    materialised = instance.get_materialized_partitions(dg.AssetKey(watch.asset))
    latest_key = rel.period_to_key(watch, str(meta["latestPeriod"]))
    wanted = missing_published(all_keys, materialised, latest_key)
    reason = "missing"
    if watch.table == "KONK25":
        quarters = quarterly_partitions.get_partition_keys(current_time=now)
        last_quarter = quarters[-1] if quarters else None
        panel_done = instance.get_materialized_partitions(dg.AssetKey("quarterly_panel"))
        months = quarter_months_keys(last_quarter) if last_quarter else []
        if last_quarter and last_quarter not in panel_done and months and months[-1] <= latest_key:
            wanted += months
            reason = "missing, or the last quarter never reached quarterly_panel"
    if not wanted:
        return dg.SkipReason(
            f"{watch.table}: every published partition through {meta['latestPeriod']} is materialised — "
            "the publication sensor kept up; nothing to do."
        )
    return [
        dg.RunRequest(
            job_name=watch.job,
            tags={TRIGGER_TAG: "safety_net", "sector_forecast/reason": reason,
                  RANGE_START: start, RANGE_END: end},
        )
        for start, end in rel.contiguous_ranges(wanted, all_keys)
    ]


def safety_net(name: str, table: str, cron: str, description: str) -> dg.ScheduleDefinition:
    """A schedule that pulls what `table` published but the instance lacks (see `catch_up_requests`)."""

    @dg.schedule(name=name, cron_schedule=cron, execution_timezone="UTC", job_name=rel.WATCHED_BY_TABLE[table].job,
                 default_status=dg.DefaultScheduleStatus.RUNNING, description=description)
    def _safety_net(context: dg.ScheduleEvaluationContext, statbank: StatBankResource):
        # The tick's own time on the wall clock; the override when replaying a date.
        now = clock.now(context.scheduled_execution_time)
        return catch_up_requests(context.instance, statbank, rel.WATCHED_BY_TABLE[table], now)

    return _safety_net


quarterly_safety_net = safety_net(
    "quarterly_safety_net", "KONK25", QUARTERLY_CRON,
    "10 Feb/May/Aug/Nov 09:00 UTC: pull KONK25 months DST published that the instance lacks "
    "(and the last quarter's months if it never reached the panel). Skips when the sensor kept up.",
)
demo14_yearly_safety_net = safety_net(
    "demo14_yearly_safety_net", "DEMO14", DEMO14_CRON,
    "1 July 09:00 UTC, after DEMO14's mid-June release: pull published DEMO14 years the "
    "instance lacks. Skips when the sensor kept up.",
)
