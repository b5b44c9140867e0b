"""Retraining driven by monitoring: a drift report that raises its retrain flag re-fits and re-promotes.

The sensor reads new `drift_report` materialisations from the event log. Its cursor holds the last storage id
seen (each report event is read once) and the served forecasts already acted on (`<quarter>@v<version>`,
from the report's `judged_forecast`), so re-running a flagged report does not retrain again. When a new one
carries `retrain = True` it requests one `retrain_job` run for the newest quarter that has a drift report —
the latest forecast origin with data: every model is re-fitted there, then the leaderboard, the promotion gate,
the forecasts and the batch predictions are rebuilt, so the new champion (if it wins) serves and its forecasts
enter the prediction log.
The run key names the judged forecasts, so even a lost cursor cannot launch the same retrain twice (Dagster
skips a run key a sensor already used). A report asks for a retrain only when a monitor alarms in a quarter
after the serving champion's training origin (see `reports/drift_pages.py`), so once the gate has replaced the
judged version the report stops asking, and monitoring and retraining cannot loop.
"""

import json

import dagster as dg

from sector_forecast.defs.assets.models import FIT_ASSET_NAMES
from sector_forecast.defs.sensors.publication import TRIGGER_TAG

SENSOR_NAME = "drift_retrain_sensor"
REPORT_ASSET = dg.AssetKey("drift_report")
PAGE = 500
MAX_REMEMBERED = 200

retrain_job = dg.define_asset_job(
    "retrain_job",
    selection=dg.AssetSelection.assets(
        *FIT_ASSET_NAMES, "backtest_leaderboard", "champion_model", "forecasts", "batch_predictions"),
    description="Re-fit every model at one forecast origin, then leaderboard, promotion "
    "gate, forecasts and batch predictions: what the drift sensor requests when a report asks to retrain.",
)


def _flag(record: dg.EventLogRecord) -> tuple[bool, str]:
    """(retrain flag, judged-forecast key) from a report's materialisation metadata."""
    metadata = record.asset_materialization.metadata if record.asset_materialization else {}
    flag = bool(getattr(metadata.get("retrain"), "value", False))
    key = getattr(metadata.get("judged_forecast"), "value", None) or f"{record.partition_key}@?"
    return flag, str(key)


def new_reports(instance: dg.DagsterInstance, after: int | None) -> list[dg.EventLogRecord]:
    """`drift_report` materialisations stored after the cursor, oldest first."""
    records: list[dg.EventLogRecord] = []
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=REPORT_ASSET, after_storage_id=after), limit=PAGE, cursor=cursor,
            ascending=True)
        records.extend(page.records)
        if not page.has_more:
            return records
        cursor = page.cursor


def read_cursor(raw: str | None) -> tuple[int | None, list[str]]:
    """(last storage id seen, judged forecasts already acted on)."""
    if not raw:
        return None, []
    state = json.loads(raw)
    return state.get("after"), list(state.get("acted_on", []))


@dg.sensor(
    name=SENSOR_NAME,
    job=retrain_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a new drift report raises its retrain flag (a data-drift or performance alarm after the "
    "serving champion's training origin), re-fit every model at the latest origin and re-run the gate.",
)
def drift_retrain_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    after, acted_on = read_cursor(context.cursor)
    records = new_reports(context.instance, after)
    if not records:
        return dg.SensorResult(skip_reason="no new drift reports")
    after = max(r.storage_id for r in records)
    flagged = {key: r for r in records for flag, key in [_flag(r)] if flag and key not in acted_on}
    cursor = json.dumps({"after": after, "acted_on": (acted_on + sorted(flagged))[-MAX_REMEMBERED:]})
    if not flagged:
        return dg.SensorResult(skip_reason=f"{len(records)} new drift report(s); none asks for a new retrain",
                               cursor=cursor)
    reported = context.instance.get_materialized_partitions(REPORT_ASSET)
    origin = max(reported | {r.partition_key for r in flagged.values() if r.partition_key})
    context.log.info(f"retrain requested by drift reports {sorted(flagged)}: re-fitting origin {origin}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(
            run_key="drift-retrain-" + "+".join(sorted(flagged)), partition_key=origin,
            tags={TRIGGER_TAG: "drift_report", "sector_forecast/judged_forecasts": ",".join(sorted(flagged))},
        )],
        cursor=cursor,
    )
