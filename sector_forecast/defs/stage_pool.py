"""`sector-forecast run`'s independent runs on every core: the raw tables side by side, one fit run per model.

Most of a cold run is stages whose parts share nothing. The three raw tables each read their own StatBank table.
The seven fit assets read the same features and none reads another, and each is single-threaded on purpose
(XGBoost `n_jobs=1`, every estimator fit on one BLAS/OpenMP thread, so refits are bit-identical), so in one
process they leave every other core idle for the longest stage (~60% of a cold run). Here those parts are runs of
their own, executed in-process by worker processes: each raw job over its published range, and `fits_job` once per
model (that asset selected) over the origins, the tuned regressions first since they cost most. What a user sees
per partition is unchanged (one materialisation, one check result, one MLflow run, the same values); the fits
stage shows one run per model instead of one. The other stages run in the calling process, as before.

Workers are spawned, not forked (the parent holds SQLite connections and threads), are reused from stage to stage,
and on Linux die with the thread that started them (`PR_SET_PDEATHSIG`): a killed `sector-forecast run` leaves no
run going on behind it, and each worker's unfinished run names the worker as its process (`run_process`), so
`fail_interrupted_runs` fails it. `SECTOR_FORECAST_WORKERS` sets the number of workers (default: the CPUs this
process may use); 1 runs every stage as one run in the calling process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import dagster as dg

from sector_forecast.defs.run_process import process_tags
from sector_forecast.domain import forecasters

WORKERS_ENV = "SECTOR_FORECAST_WORKERS"
RAW_STAGES = ("konk4_job", "konk25_job", "demo14_job")  # each reads only its own table
# Costliest first, so the last fit to start is a cheap one: the tuned regressions, the series, the rules.
_COST_ORDER = {"regression": 0, "series": 1, "rule": 2}


@dataclass(frozen=True)
class Launch:
    """One run: a stage job over its range (`tags`), or one asset of it."""

    job: str
    span: str
    tags: dict[str, str]
    asset: str | None = None


@dataclass(frozen=True)
class Finished:
    launch: Launch
    run_id: str
    success: bool
    seconds: float
    failures: list[str] = field(default_factory=list)


def stage_workers() -> int:
    """Worker processes: `SECTOR_FORECAST_WORKERS`, else the CPUs this process may use."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{WORKERS_ENV}={raw!r}: expected a whole number of processes, 1 or more")
        return int(raw)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def costliest_first(assets: list[str]) -> list[str]:
    """Fit assets ordered by their model's kind (tuned regressions first), then by name."""
    def kind(asset: str) -> int:
        return _COST_ORDER.get(forecasters.MODELS[asset.removeprefix("fit_")].kind, len(_COST_ORDER))

    return sorted(assets, key=lambda a: (kind(a), a))


class StagePool:
    """Runs `Launch`es in worker processes started on first use and kept until `close()`.

    `defs` must come from `build_definitions` (its resources are rebuilt in each worker); `describe` turns a
    failed run's result into lines for the user (`pipeline.failure_lines`), called in the worker.
    """

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, workers: int, run_config: dict,
                 describe: Callable[[dg.ExecuteInProcessResult], list[str]]) -> None:
        # Dagster's resources do not pickle; their classes and field values do.
        self._resources = {name: (type(defs.resources[name]), {key: getattr(defs.resources[name], key)
                                                               for key in type(defs.resources[name]).model_fields})
                           for name in ("statbank", "mlflow")}
        self._storage_dir = defs.resources["parquet_io_manager"].base_dir
        self._ref, self._workers, self._run_config, self._describe = instance.get_ref(), workers, run_config, describe
        self._pool: ProcessPoolExecutor | None = None

    def run_all(self, launches: list[Launch]) -> Iterator[Finished]:
        """Execute `launches` at most `workers` at a time, in the order given; yield each as it finishes."""
        if self._pool is None:
            self._pool = worker_pool(self._workers)
        futures = [self._pool.submit(_execute, self._resources, self._storage_dir, self._ref, launch,
                                     self._run_config, self._describe) for launch in launches]
        for future in as_completed(futures):
            yield future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes that, on Linux, the kernel SIGKILLs when the thread that started them ends.

    `PR_SET_PDEATHSIG` follows the starting *thread*: use the pool from a thread that lives as long as the runs
    (`sector-forecast run`'s main thread).
    """
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _execute(resources: dict, storage_dir: str | None, instance_ref, launch: Launch, run_config: dict,
             describe: Callable[[dg.ExecuteInProcessResult], list[str]]) -> Finished:
    from sector_forecast.defs.definitions import build_definitions

    built = {name: cls(**fields) for name, (cls, fields) in resources.items()}
    job = build_definitions(**built, storage_dir=storage_dir).resolve_job_def(launch.job)
    selection = [dg.AssetKey(launch.asset)] if launch.asset else None
    started = time.perf_counter()
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        outcome = job.execute_in_process(instance=instance, tags={**launch.tags, **process_tags()},
                                         raise_on_error=False, asset_selection=selection, run_config=run_config)
    failures = [] if outcome.success else describe(outcome)
    return Finished(launch, outcome.run_id, outcome.success, time.perf_counter() - started, failures)
