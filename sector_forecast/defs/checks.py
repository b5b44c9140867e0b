"""Pandera contracts run as blocking Dagster asset checks on every edge of the graph.

`dagster_pandera` only turns a schema into an output *type*, whose failures do not show in the Checks
tab; these checks validate lazily, list the failing rows in the check's metadata, and block the run so
nothing downstream is built from a partition that broke its contract. A single-run backfill validates
its whole range in one pass (one schema call, not one per month).

Each partition shows its own facts, also when one run (a single-run backfill) materialises many:

* Materialisation metadata. Dagster copies the one `Output`'s metadata onto every partition's
  materialisation of the run; `AssetExecutionContext.add_asset_metadata(..., partition_key=k)` overrides it
  per partition. `checked_output` records each partition's own `dagster/row_count`, `dagster/column_schema`
  and `preview` that way, and labels the caller's run-wide entries `run/...`
  (`sector_forecast.defs.metadata.run_metadata`).
* The contract check: one `dg.AssetCheckEvaluation` per partition, with that partition's rows, failures
  and materialisation. `AssetCheckResult` cannot say which partition it is about in such a run; what that
  costs is confined to `sector_forecast.defs.dagster_gaps`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from sector_forecast.contracts import validation as contracts
from sector_forecast.defs.dagster_gaps import TargetMaterialization, check_step_output, run_materializations
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


def _evaluation(
    asset_key: dg.AssetKey, key: str, rows: int | None, failures: list[dict], run_keys: list[str],
    blocking: bool, description: str, target: TargetMaterialization | None = None,
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
        yield from _unpartitioned(asset_name, value, frame, schema, metadata)
        return
    run = _PartitionedRun.of(context, asset_name, value, frame_of or default_frame_of)
    failures = contracts.validate(schema, frame.reset_index(drop=True))
    if failures:
        yield from run.failed(schema, failures, len(frame))
        return
    for key in run.run_keys:
        part = run.frames.get(key)
        if key not in value:
            context.add_asset_metadata({"dagster/row_count": dg.MetadataValue.int(0)}, partition_key=key)
        elif part is not None:
            extra = dict(partition_metadata(key, part)) if partition_metadata else {}
            context.add_asset_metadata(frame_metadata(part, preview_rows, schema, **extra), partition_key=key)
    yield dg.Output(value, metadata=run_metadata(metadata, run.run_keys, set(shared)))
    yield from run.passed()


@dataclass(frozen=True)
class _PartitionedRun:
    """The partitions one run of a partitioned asset covers, and how its contract check reports them."""

    context: dg.AssetExecutionContext
    asset_name: str
    run_keys: list[str]
    frames: dict[str, pd.DataFrame | None]  # the rows of each partition the run produced

    @classmethod
    def of(cls, context: dg.AssetExecutionContext, asset_name: str, value: Mapping, frame_of: FrameOf
           ) -> _PartitionedRun:
        run_keys = list(context.partition_keys)
        return cls(context, asset_name, run_keys, {k: frame_of(value[k]) for k in run_keys if k in value})

    @property
    def check_key(self) -> dg.AssetCheckKey:
        return dg.AssetCheckKey(dg.AssetKey(self.asset_name), CHECK_NAME)

    def _evaluate(self, key: str, failures: list[dict], description: str,
                    target: TargetMaterialization | None = None) -> dg.AssetCheckEvaluation:
        spec = next((s for s in self.context.assets_def.check_specs if s.key == self.check_key), None)
        part = self.frames.get(key)
        return _evaluation(
            self.check_key.asset_key, key, None if part is None else len(part), failures, self.run_keys,
            spec.blocking if spec is not None else True, description, target,
        )

    def failed(self, schema: pa.DataFrameSchema, failures: list[dict], rows: int) -> Iterator:
        """Failed evaluations of the partitions at fault, then the step's one-line failure."""
        yield from check_step_output(self.context, self.check_key)
        stored = "" if len(self.run_keys) == 1 else f" — nothing of the run {_span(self.run_keys)} is stored."
        keys = list(self.frames) or self.run_keys
        for key, found in _partition_failures(failures, self.frames, schema, keys).items():
            yield self._evaluate(key, found, contracts.summarize_failures(f"{self.asset_name} {key}", found) + stored)
        raise dg.Failure(
            description=contracts.summarize_failures(self.asset_name, failures),
            metadata={"partitions_checked": dg.MetadataValue.text(f"{len(self.run_keys)} ({_span(self.run_keys)})"),
                      "rows_checked": dg.MetadataValue.int(rows), **_failure_metadata(failures)},
        )

    def passed(self) -> Iterator:
        """A passed evaluation of each partition the run stored, pointing at its materialisation."""
        yield from check_step_output(self.context, self.check_key)
        keys = list(self.frames)
        targets = run_materializations(self.context, self.check_key.asset_key, keys)
        where = ("" if len(self.run_keys) == 1
                 else f" (validated in one pass over the run's range {_span(self.run_keys)})")
        for key in keys:
            part = self.frames[key]
            what = "satisfies the contract" if part is None else f"{len(part)} rows satisfy the contract"
            yield self._evaluate(key, [], f"{self.asset_name} {key}: {what}{where}.", targets.get(key))


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
    asset_name: str, value: object, frame: pd.DataFrame, schema: pa.DataFrameSchema, metadata: dict
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    result = yield from require_contract(asset_name, frame, schema, [])
    yield dg.Output(value, metadata=metadata)
    yield result
