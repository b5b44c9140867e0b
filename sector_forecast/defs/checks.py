"""Pandera contracts run as blocking Dagster asset checks on every edge of the graph.

`dagster_pandera` only turns a schema into an output *type*, whose failures do not show in the Checks
tab; these checks validate lazily, list the failing rows in the check's metadata, and block the run so
nothing downstream is built from a partition that broke its contract. A single-run backfill validates
its whole range in one pass (one schema call, not one per month).

Each partition shows its own facts, also when one run (a single-run backfill) materialises many:

* Materialisation metadata. Dagster 1.13 records one materialisation event per partition of the run and
  copies the `Output`'s metadata onto each (`dagster/_core/execution/plan/execute_step.py:650-678`); one
  `Output` per partition is not possible (one output per asset per step). Partition-scoped metadata goes
  through `AssetExecutionContext.add_asset_metadata(metadata, partition_key=k)`
  (`dagster/_core/execution/context/asset_execution_context.py:479`, stored by
  `StepExecutionContext.add_asset_metadata`, `context/system.py:732`) and overrides the Output's entries
  for that partition's event. `checked_output` uses it for each partition's own `dagster/row_count`,
  `dagster/column_schema` and `preview`, and labels the caller's run-wide entries `run/...`
  (`sector_forecast.defs.metadata.run_metadata`).
* The contract check. `AssetCheckResult` has no partition field in 1.13 (`asset_check_result.py:29-40`):
  in a range run Dagster turns it into one evaluation with `partition=None` (`asset_check_result.py:214-
  219`), while it has already planned one evaluation *per partition* of the run (`instance/runs/
  run_domain.py:873-889`, `storage/dagster_run.py:428-431`), which then resolve as SKIPPED. The event it
  converts to, `AssetCheckEvaluation`, does carry `partition` and may be yielded from an asset directly
  (`execution/plan/compute.py:104`, `execute_step.py:520`); storage fills the planned row of that
  partition (`storage/event_log/sql_event_log.py:3292`). So `checked_output` yields one evaluation per
  partition, with that partition's row count, failures and materialisation, plus the check's (empty)
  step output that `AssetCheckResult` would have produced (`execute_step.py:116-131`).
"""

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any

import dagster as dg
import pandas as pd
import pandera.pandas as pa

# Not re-exported by `dagster` in 1.13; the type of `AssetCheckEvaluation.target_materialization_data`.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from sector_forecast.contracts import inputs as contracts
from sector_forecast.defs.metadata import frame_metadata, run_metadata, with_descriptions

MAX_FAILURES_SHOWN = 20
CHECK_NAME = "contract"
# A partition's value that is not a DataFrame (a fit: model, predictions, run id, ...) is described by the
# DataFrame under this key, unless the caller passes `frame_of`.
FRAME_KEY = "predictions"

FrameOf = Callable[[Any], pd.DataFrame | None]
PartitionMetadata = Callable[[str, pd.DataFrame], Mapping[str, Any]]


def contract_spec(asset_name: str, what: str = "") -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=CHECK_NAME,
        asset=asset_name,
        blocking=True,
        description=(what or f"Pandera contract of {asset_name}: codes, keys, ranges and missing values.")
        + " Partitioned assets are validated once per run and reported per partition.",
    )


def default_frame_of(value: Any) -> pd.DataFrame | None:
    """The rows a partition's value stands for: the value itself, or its `FRAME_KEY` DataFrame."""
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, Mapping) and isinstance(value.get(FRAME_KEY), pd.DataFrame):
        return value[FRAME_KEY]
    return None


def _span(keys: list[str]) -> str:
    keys = sorted(keys)
    return f"{keys[0]}..{keys[-1]}" if len(keys) > 1 else (keys[0] if keys else "-")


def _failure_metadata(failures: list[dict]) -> dict:
    metadata: dict = {"failures": dg.MetadataValue.int(len(failures))}
    if failures:
        shown = pd.DataFrame(failures[:MAX_FAILURES_SHOWN]).astype(str)
        metadata["failure_cases"] = dg.MetadataValue.md(shown.to_markdown(index=False))
    return metadata


def contract_check_result(
    asset_name: str, frame: pd.DataFrame, schema: pa.DataFrameSchema, partitions: list[str]
) -> dg.AssetCheckResult:
    """Validate the run's rows; one result covering all its partitions, with the failing rows named.

    For unpartitioned assets, and the run-level summary of a failed partitioned run. The description and
    `partitions_checked` name the range, since the result is not any single partition's.
    """
    failures = contracts.validate(schema, frame.reset_index(drop=True))
    keys = sorted(partitions)
    metadata: dict = {
        "partitions_checked": dg.MetadataValue.text(f"{len(keys)} ({_span(keys)})"),
        "rows_checked": dg.MetadataValue.int(len(frame)),
        **_failure_metadata(failures),
    }
    if failures:
        description = contracts.summarize_failures(asset_name, failures)
    elif keys:
        description = f"{asset_name}: {len(frame)} rows in {len(keys)} partition(s) {_span(keys)} satisfy the contract."
    else:
        description = f"{asset_name}: {len(frame)} rows satisfy the contract."
    return dg.AssetCheckResult(
        check_name=CHECK_NAME, asset_key=asset_name, passed=not failures, metadata=metadata,
        description=description,
    )


def _current_context() -> dg.AssetExecutionContext | None:
    try:
        return dg.AssetExecutionContext.get()
    except dg.DagsterInvariantViolationError:
        return None


def _partition_failures(
    failures: list[dict], frames: dict[str, pd.DataFrame | None], schema: pa.DataFrameSchema, keys: list[str]
) -> dict[str, list[dict]]:
    """Which partitions broke the contract, each with its own failing rows.

    Only called when the run's frame failed: each partition's rows are validated on their own. Failures
    no single partition reproduces (rows outside every partition, a partition whose rows are unknown) are
    charged to every partition of the run, since none of them is stored.
    """
    own: dict[str, list[dict]] = {}
    for key in keys:
        part = frames.get(key)
        if part is None:
            return {k: failures for k in keys}
        found = contracts.validate(schema, part.reset_index(drop=True))
        if found:
            own[key] = found
    return own or {k: failures for k in keys}


def _targets(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """This run's materialisation of each partition, which the partition's evaluation is about."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=max(len(keys), 1)
    ).records
    out: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    for record in records:
        key = record.partition_key
        if record.run_id == context.run.run_id and key is not None and key not in out:
            out[key] = AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
            )
    return out


def _evaluation(
    asset_key: dg.AssetKey, key: str, rows: int | None, failures: list[dict], run_keys: list[str],
    blocking: bool, description: str, target: AssetCheckEvaluationTargetMaterializationData | None = None,
) -> dg.AssetCheckEvaluation:
    metadata: dict = {"partition": dg.MetadataValue.text(key)}
    if rows is not None:
        metadata["rows_checked"] = dg.MetadataValue.int(rows)
    metadata.update(_failure_metadata(failures))
    if len(run_keys) > 1:
        metadata["run/partitions_checked"] = dg.MetadataValue.text(f"{len(run_keys)} ({_span(run_keys)})")
    return dg.AssetCheckEvaluation(
        asset_key=asset_key, check_name=CHECK_NAME, passed=not failures, metadata=metadata,
        target_materialization_data=target, severity=dg.AssetCheckSeverity.ERROR, description=description,
        blocking=blocking, partition=key,
    )


def checked_output(
    asset_name: str,
    value: object,
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    partitions: list[str],
    metadata: dict,
    *,
    frame_of: FrameOf | None = None,
    partition_metadata: PartitionMetadata | None = None,
    shared: Iterable[str] = (),
    preview_rows: int = 10,
) -> Iterator[dg.Output | dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """Validate first, store only what passes; record each partition's own figures.

    `frame` (the run's rows) is validated in one pass. A failing contract is still reported as failed,
    blocking check evaluations, then the step fails with a one-line error: the bad rows never reach
    storage, so no later run can read them either.

    For a partitioned asset (`value` is `{partition_key: value}`), each partition's materialisation gets
    `dagster/row_count`, `dagster/column_schema` and `preview` of its own rows, `frame_of(value[key])`
    (default `default_frame_of`: the DataFrame itself, or the one under `FRAME_KEY`, e.g. a fit's
    predictions), plus `partition_metadata(key, rows)` if given (a caller needing more than the rows, e.g.
    a fit's MLflow run id, looks `key` up in its own `value`). `metadata` describes the whole run: in a
    run of several partitions Dagster would show it on every partition's page as that partition's, so
    `sector_forecast.defs.metadata.run_metadata` prefixes its entries `run/` (`run/quarters 71`, `run/row_count`),
    except those in `shared` (and `ui.SHARED_KEYS`, e.g. column lineage) that hold for every partition,
    like a source or a formula. A run of a single partition keeps `metadata` as it is.

    The `contract` check is reported per partition: one evaluation each, naming the partition, its rows
    and its materialisation. If the run fails, the partitions whose own rows break the contract are
    reported failed (all of them if no single partition reproduces the failure); the others are not
    evaluated, so Dagster shows their check as not executed rather than passed on unstored rows.
    """
    metadata = with_descriptions(metadata, schema)  # the contract's column descriptions, shown in the UI
    context = _current_context()
    if context is None or context.assets_def.partitions_def is None or not isinstance(value, Mapping):
        yield from _unpartitioned(asset_name, value, frame, schema, partitions, metadata)
        return

    asset_key = dg.AssetKey(asset_name)
    check_key = dg.AssetCheckKey(asset_key, CHECK_NAME)
    run_keys = list(context.partition_keys)
    keys = [k for k in run_keys if k in value]
    frame_of = frame_of or default_frame_of
    frames = {k: frame_of(value[k]) for k in keys}
    spec = next((s for s in context.assets_def.node_check_specs_by_output_name.values() if s.key == check_key), None)
    blocking = spec.blocking if spec is not None else True
    selected = check_key in context.selected_asset_check_keys

    def check_output() -> Iterator[dg.Output]:
        # What `AssetCheckResult` yields for a selected check: the step output downstream steps wait on.
        if selected:
            yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))

    failures = contracts.validate(schema, frame.reset_index(drop=True))
    if failures:
        yield from check_output()
        for key, found in _partition_failures(failures, frames, schema, keys or run_keys).items():
            part = frames.get(key)
            yield _evaluation(
                asset_key, key, None if part is None else len(part), found, run_keys, blocking,
                contracts.summarize_failures(f"{asset_name} {key}", found)
                + ("" if len(run_keys) == 1 else f" — nothing of the run {_span(run_keys)} is stored."),
            )
        raise dg.Failure(
            description=contracts.summarize_failures(asset_name, failures),
            metadata={"partitions_checked": dg.MetadataValue.text(f"{len(run_keys)} ({_span(run_keys)})"),
                      "rows_checked": dg.MetadataValue.int(len(frame)), **_failure_metadata(failures)},
        )

    for key in run_keys:
        part = frames.get(key)
        if key not in value:
            context.add_asset_metadata({"dagster/row_count": dg.MetadataValue.int(0)}, partition_key=key)
        elif part is not None:
            extra = dict(partition_metadata(key, part)) if partition_metadata else {}
            context.add_asset_metadata(frame_metadata(part, preview_rows, schema, **extra), partition_key=key)
    yield dg.Output(value, metadata=run_metadata(metadata, run_keys, set(shared)))

    yield from check_output()
    targets = _targets(context, asset_key, keys)
    for key in keys:
        part = frames.get(key)
        what = "satisfies the contract" if part is None else f"{len(part)} rows satisfy the contract"
        where = "" if len(run_keys) == 1 else f" (validated in one pass over the run's range {_span(run_keys)})"
        yield _evaluation(
            asset_key, key, None if part is None else len(part), [], run_keys, blocking,
            f"{asset_name} {key}: {what}{where}.", targets.get(key),
        )


def require_contract(
    asset_name: str, frame: pd.DataFrame, schema: pa.DataFrameSchema, partitions: list[str]
) -> Generator[dg.AssetCheckResult, None, dg.AssetCheckResult]:
    """Validate before any side effect: on failure yield the failed check and stop the step; else return it.

    Use as `result = yield from require_contract(...)`, then write files or logs, then yield `result`.
    """
    result = contract_check_result(asset_name, frame, schema, partitions)
    if not result.passed:
        yield result
        raise dg.Failure(description=result.description, metadata=result.metadata)
    return result


def _unpartitioned(
    asset_name: str, value: object, frame: pd.DataFrame, schema: pa.DataFrameSchema, partitions: list[str],
    metadata: dict,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    result = yield from require_contract(asset_name, frame, schema, partitions)
    yield dg.Output(value, metadata=metadata)
    yield result
