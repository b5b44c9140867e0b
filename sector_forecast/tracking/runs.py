"""MLflow bookkeeping for fits and the registry: plain MLflow calls, no Dagster.

One MLflow run per (model, forecast origin). `MlflowClient.log_batch` keeps a cold backtest of ~100 runs
cheap; full MLflow models are logged only for origins that can be promoted.

MLflow itself (~2 s to import) is imported inside the functions that call it: the asset modules import
this one to define the graph, and a code server or run worker that never logs should not pay for it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CHAMPION_ALIAS = "champion"
FINGERPRINT_TAG = "fit_fingerprint"  # a hash of what a version serves (`defs/assets/evaluation.fingerprint`)


def client_for(uri: str) -> MlflowClient:
    """The client for `uri`, also made MLflow's current tracking and registry URI (for `load_model` & co)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return _client(uri)


@functools.cache
def _client(uri: str) -> MlflowClient:
    """One client per URI and process: a new SQLite-backed client re-checks the database schema (~0.5 s each).

    MLflow creates (or migrates) a SQLite store's tables when its first client connects, with no guard
    against another process doing the same: two `sector-forecast run`s, or a run beside `dagster dev`, on a
    new store failed with "table ... already exists" or a half-migrated schema. Creating the client, and
    touching both the tracking and the registry store, under a lock beside the database makes it happen once.
    """
    from filelock import FileLock
    from mlflow.tracking import MlflowClient

    if not uri.startswith("sqlite:///"):  # a server or a database server initialises its own store
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(db.with_name(f"{db.name}.lock")):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
        _wal(db)
    return client


def _wal(db: Path) -> None:
    """Put the MLflow store in SQLite's WAL mode (kept in the file), as Dagster's SQLite storages are.

    MLflow leaves SQLite in rollback-journal mode: ~11 ms of fsyncs per commit here, and a fit's run is four
    commits. In WAL mode the code location's `synchronous=NORMAL` (`defs/dagster_gaps.py`) applies: commits
    survive a killed process without an fsync each. Copy the file with SQLite's backup API, not as a file,
    while a process may hold it open. A store another process holds busy stays as it is.
    """
    import sqlite3

    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        with contextlib.suppress(sqlite3.OperationalError):
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")


@contextlib.contextmanager
def registry_lock(uri: str) -> Iterator[None]:
    """Hold while checking "is this content already the champion?" and registering it if not.

    Two processes on one SQLite store (a CLI run beside `dagster dev`'s automation) would otherwise both see
    no matching version and both register one (and log the model twice). A lock file cannot span the hosts of
    a tracking server, so none is taken there: two registrations of one content can happen, and
    `register_champion` deletes the later one (`keep_first`).
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    from filelock import FileLock

    db = Path(uri.removeprefix("sqlite:///"))
    with FileLock(db.with_name(f"{db.name}.registry.lock")):
        yield


def experiment_id(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except MlflowException:  # created concurrently by another run
        return client.get_experiment_by_name(name).experiment_id


def _finite(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


def log_run(
    client: MlflowClient,
    exp_id: str,
    *,
    run_name: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    tables: Mapping[str, pd.DataFrame] | None = None,
    texts: Mapping[str, str] | None = None,
) -> str:
    """Create a finished run with params, metrics, tags and small CSV/markdown artefacts; return its id."""
    from mlflow.entities import Metric, Param

    run = client.create_run(exp_id, run_name=run_name, tags=dict(tags))
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in _finite(metrics).items()],
        params=[Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in params.items()],
    )  # `create_run(run_name=...)` already records the `mlflow.runName` tag
    for name, frame in (tables or {}).items():
        client.log_text(run_id, frame.to_csv(index=False), name)
    for name, text in (texts or {}).items():
        client.log_text(run_id, text, name)
    client.set_terminated(run_id)
    return run_id


def log_model_into(run_id: str, uri: str, log: Callable[[Path], Any]) -> str:
    """Reopen a run and call `log(workdir)` inside it (MLflow's model logging needs an active run).

    `workdir` is a scratch directory for the model's artefact files, removed once MLflow has copied them.
    """
    import mlflow

    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_id=run_id), tempfile.TemporaryDirectory(prefix="sector-forecast-mlflow-") as tmp:
        info = log(Path(tmp))
    return info.model_uri


def current_champion(client: MlflowClient, name: str) -> Any | None:
    """The model version behind `name@champion`, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None


def same_champion(client: MlflowClient, name: str, fingerprint: str) -> Any | None:
    """The current champion if it was registered from the same fit (re-runs must not add versions)."""
    current = current_champion(client, name)
    if current is not None and current.tags.get(FINGERPRINT_TAG) == fingerprint:
        return current
    return None


def register_champion(
    client: MlflowClient, name: str, model_uri: str, run_id: str, tags: Mapping[str, str], fingerprint: str
) -> Any:
    """Register a new version of `fingerprint`'s content and move the `champion` alias to the content's version.

    That is the new version unless another process registered the same content meanwhile (`keep_first`).
    """
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        with contextlib.suppress(MlflowException):  # created meanwhile by a process racing us: it is there
            client.create_registered_model(
                name, description="Next-quarter Sector Vitality Score per Danish DB07 sector (sector_forecast)."
            )
    # A tracking server accepts a `models:/m-<id>` source only together with that logged model's id (the
    # SQLite store does not check; found by the image test against a real `mlflow server`).
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    client.create_model_version(name, model_uri, run_id=run_id, tags={**tags, FINGERPRINT_TAG: fingerprint},
                                model_id=model_id)
    return keep_first(client, name, fingerprint)


def keep_first(client: MlflowClient, name: str, fingerprint: str) -> Any:
    """Keep the lowest version registered from `fingerprint`, with the `champion` alias; delete the others.

    `registry_lock` keeps two registrations of one content apart only on a SQLite store. Two hosts on one
    tracking server can both find no version of the content and both register one; each then calls this, and
    both end at the lowest version whatever the interleaving: the lowest is never deleted, and the alias only
    ever points at it. A version the other process deleted first is already gone. Content registered once
    before and served again (data revised back) likewise returns to its first version.
    """
    from mlflow.exceptions import MlflowException

    versions = client.search_model_versions(f"name = '{name}' and tags.{FINGERPRINT_TAG} = '{fingerprint}'")
    first = min(versions, key=lambda v: int(v.version))
    for version in versions:
        if version.version != first.version:
            try:
                client.delete_model_version(name, version.version)
            except MlflowException as err:
                if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
    client.set_registered_model_alias(name, CHAMPION_ALIAS, first.version)
    return first
