"""Run the whole graph in-process on a Dagster instance: what `sector-forecast run` does.

Each stage is one Dagster run over a partition range (single-run backfill), so a cold run of hundreds of
partitions costs a handful of runs, and `dagster dev` on the same `$DAGSTER_HOME` shows the same history. With
more than one CPU the raw tables run side by side and the fits as one run per model, in worker processes
(`stage_pool`). Partitions DST has not published yet are left out, and the summary says so.

Runs executed in-process die with their process (kill -9, OOM, power loss), and Dagster's run monitoring
cannot tell whether a `DefaultRunLauncher`'s worker lives, so every run records the process executing it
(`run_process`: the CLI at launch, every run worker when it starts) and `fail_interrupted_runs` marks those
whose process is gone as failed.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from sector_forecast.defs.assets.models import FIT_ASSET_NAMES
from sector_forecast.defs.jobs import STAGES
from sector_forecast.defs.partitions import (
    RANGE_END,
    RANGE_START,
    konk4_monthly_partitions,
    month_key_to_period,
    monthly_partitions,
    origin_partitions,
    period_to_month_key,
    quarter_key_to_label,
    quarterly_partitions,
    yearly_partitions,
)
from sector_forecast.defs.run_process import HOST_TAG, PROCESS_TAG, process_tags, process_token
from sector_forecast.defs.stage_pool import RAW_STAGES, Finished, Launch, StagePool, costliest_first, stage_workers
from sector_forecast.domain.periods import quarter_month_starts
from sector_forecast.statbank import StatBankClient


@dataclass
class StageResult:
    job: str
    partitions: str
    run_id: str
    success: bool
    seconds: float
    assets: str = ""  # the stage's assets this run materialised, when the stage is several runs (the fits)


@dataclass
class PipelineResult:
    stages: list[StageResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(s.success for s in self.stages)


LAUNCHED_BY_TAG = "sector_forecast/launched_by"
IN_PROGRESS = (dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
               dg.DagsterRunStatus.CANCELING)


def fail_interrupted_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every unfinished run of this host whose executing process is gone; one line per run.

    Only runs tagged by `process_tags` on this host are judged (another host's processes are not visible
    here); a run whose process still lives is left alone. Callers hold the instance's run lock
    (`cli.home.exclusive_instance`), so two callers never report the same run.
    """
    host = socket.gethostname()
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=list(IN_PROGRESS), tags={HOST_TAG: host}))
    lines = []
    for record in records:
        run = record.dagster_run
        token = run.tags.get(PROCESS_TAG, "")
        pid = token.split(":", 1)[0]
        if not pid.isdigit() or process_token(int(pid)) == token:
            continue
        message = (f"interrupted: process {pid} on {host} that executed this run is gone (killed, out of memory "
                   f"or a power loss); marked failed by sector-forecast, its unfinished partitions are not "
                   f"materialised")
        instance.report_run_failed(run, message=message)
        lines.append(f"run {run.run_id[:8]} ({run.job_name}) {message}")
    return lines


# `storage.values.atomic_write`'s temporaries: `.<name>.<8 random characters>`, renamed over `<name>` when done.
PARTIAL_WRITE = re.compile(r"^\..+\.(parquet|json|pkl)\.[a-z0-9_]{8}$")


def remove_partial_writes(instance: dg.DagsterInstance, storage: Path) -> list[Path]:
    """Delete the temporaries a killed process left in the store; none while any run of the instance is in
    progress, since a live run's temporary is about to be renamed into place. Returns what was deleted."""
    if instance.get_run_records(filters=dg.RunsFilter(statuses=list(IN_PROGRESS)), limit=1):
        return []
    partial = [p for p in storage.rglob(".*") if p.is_file() and PARTIAL_WRITE.match(p.name)]
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


def period_label(partitions_def: dg.PartitionsDefinition | None, key: str) -> str:
    """A partition key as the user reads the period: `2009Q1`, `2009M01` or `2019`, not a window's first day.

    Keys of months and quarters are both `YYYY-MM-DD` window starts; the window's length tells them apart.
    """
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return key
    window = partitions_def.time_window_for_partition_key(key)
    days = (window.end - window.start).days
    if days <= 31:
        return month_key_to_period(key)
    if days <= 92:
        return quarter_key_to_label(key)
    return str(window.start.year)


def _last_key_at_or_before(partitions_def: dg.TimeWindowPartitionsDefinition, key: str) -> str | None:
    keys = [k for k in partitions_def.get_partition_keys() if k <= key]
    return keys[-1] if keys else None


def published_ranges(client: StatBankClient) -> dict[str, tuple[str, str] | None]:
    """Partition ranges each stage can materialise, given what the source has published."""
    konk25_last = period_to_month_key(client.table_meta("KONK25")["latestPeriod"])
    konk4_last = period_to_month_key(client.table_meta("KONK4")["latestPeriod"])
    demo14_last = str(client.table_meta("DEMO14")["latestPeriod"])
    m25 = _last_key_at_or_before(monthly_partitions, konk25_last)
    m4 = _last_key_at_or_before(konk4_monthly_partitions, konk4_last)
    y = _last_key_at_or_before(yearly_partitions, demo14_last)
    # A quarter is complete when its third month is published.
    q_keys = [k for k in quarterly_partitions.get_partition_keys()
              if m25 and quarter_month_starts(k)[-1] <= m25]
    o_keys = [k for k in origin_partitions.get_partition_keys() if q_keys and k <= q_keys[-1]]
    return {
        "konk25_job": (monthly_partitions.get_first_partition_key(), m25) if m25 else None,
        "konk4_job": (konk4_monthly_partitions.get_first_partition_key(), m4) if m4 else None,
        "demo14_job": (yearly_partitions.get_first_partition_key(), y) if y else None,
        "panel_job": (q_keys[0], q_keys[-1]) if q_keys else None,
        "fits_job": (o_keys[0], o_keys[-1]) if o_keys else None,
        "evaluation_job": None,
        "monitoring_job": (o_keys[0], o_keys[-1]) if o_keys else None,
    }


def run_pipeline(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    client: StatBankClient,
    jobs: list[str] | None = None,
    echo: Callable[[str], None] = print,
    log_level: str = "WARNING",
) -> PipelineResult:
    """Materialise every published partition of every stage, in dependency order.

    With more than one worker (`stage_pool`), the raw tables run side by side and the fits one run per model.
    """
    ranges = published_ranges(client)
    result = PipelineResult()
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    # An ephemeral instance has no reference a worker process could open.
    workers = 1 if instance.is_ephemeral else stage_workers()
    pool = StagePool(defs, instance, workers, run_config, failure_lines) if workers > 1 else None
    try:
        for batch in _batches(jobs or list(STAGES)):
            launches = [launch for name in batch if (launch := _launch(defs, name, ranges, result)) is not None]
            if pool is not None and launches and launches[0].job == "fits_job":
                launches = [Launch(launches[0].job, launches[0].span, launches[0].tags, asset)
                            for asset in costliest_first(list(FIT_ASSET_NAMES))]
            for launch in {launch.job: launch for launch in launches}.values():  # a line per stage, not per run
                echo(f"→ {launch.job} {launch.span}{' (one run per model)' if launch.asset else ''}")
            if pool is not None and len(launches) > 1:
                echo(f"  {len(launches)} runs, {min(workers, len(launches))} at a time")
                finished = pool.run_all(launches)
            else:
                finished = (_in_process(defs, instance, launch, run_config) for launch in launches)
            for done in finished:
                result.stages.append(StageResult(done.launch.job, done.launch.span, done.run_id, done.success,
                                                 done.seconds, done.launch.asset or ""))
                what = f"{done.launch.asset or done.launch.job}: " if len(launches) > 1 else ""
                echo(f"  {what}{'ok' if done.success else 'FAILED'} in {done.seconds:.1f}s (run {done.run_id[:8]})")
                for line in done.failures:
                    echo(f"  {line}")
            if not result.success:
                break
    finally:
        if pool is not None:
            pool.close()
    last_month = ranges.get("konk25_job")
    if last_month:
        result.notes.append(
            f"KONK25 published through {month_key_to_period(last_month[1])}; later months are not materialised"
        )
    panel = ranges.get("panel_job")
    if panel:
        result.notes.append(f"quarters {quarter_key_to_label(panel[0])}..{quarter_key_to_label(panel[1])}")
    return result


def _batches(order: list[str]) -> list[list[str]]:
    """The stages in `order`, consecutive raw tables together (they may run at once), every other stage alone."""
    batches: list[list[str]] = []
    for name in order:
        if name in RAW_STAGES and batches and batches[-1][-1] in RAW_STAGES:
            batches[-1].append(name)
        else:
            batches.append([name])
    return batches


def _launch(defs: dg.Definitions, name: str, ranges: dict, result: PipelineResult) -> Launch | None:
    """The run of stage `name` over its published range; None (and a note) when nothing is published."""
    tags: dict[str, str] = {LAUNCHED_BY_TAG: "sector-forecast run", **process_tags()}
    if name == "evaluation_job":
        return Launch(name, "-", tags)
    window = ranges.get(name)
    if window is None:
        result.notes.append(f"{name}: nothing published to materialise")
        return None
    tags.update({RANGE_START: window[0], RANGE_END: window[1]})
    partitions_def = defs.resolve_job_def(name).partitions_def
    return Launch(name, "..".join(period_label(partitions_def, key) for key in window), tags)


def _in_process(defs: dg.Definitions, instance: dg.DagsterInstance, launch: Launch, run_config: dict) -> Finished:
    started = time.perf_counter()
    outcome = defs.resolve_job_def(launch.job).execute_in_process(
        instance=instance, tags=launch.tags, raise_on_error=False, run_config=run_config)
    failures = [] if outcome.success else failure_lines(outcome)
    return Finished(launch, outcome.run_id, outcome.success, time.perf_counter() - started, failures)


def failure_lines(outcome: dg.ExecuteInProcessResult) -> list[str]:
    """One line per failed step: the user-facing description, or the innermost error's first line."""
    lines = []
    for event in outcome.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            text = data.user_failure_data.description
        else:
            error = data.error
            while error is not None and error.cause is not None:
                error = error.cause
            text = error.message if error is not None else "unknown error"
        lines.append(f"{event.step_key}: {text.strip().splitlines()[0]}")
    return lines
