"""Pandera contracts run as blocking Dagster asset checks on every edge of the graph.

`dagster_pandera` only turns a schema into an output *type*, whose failures do not show in the Checks
tab; these checks validate lazily, list the failing rows in the check's metadata, and block the run so
nothing downstream is built from a partition that broke its contract. A single-run backfill validates
its whole range in one pass (one schema call, not one per month).
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
import pandera.pandas as pa

from sector_forecast.domain import contracts

MAX_FAILURES_SHOWN = 20


def contract_spec(asset_name: str, what: str = "") -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name="contract",
        asset=asset_name,
        blocking=True,
        description=what or f"Pandera contract of {asset_name}: codes, keys, ranges and missing values.",
    )


def contract_check_result(
    asset_name: str, frame: pd.DataFrame, schema: pa.DataFrameSchema, partitions: list[str]
) -> dg.AssetCheckResult:
    """Validate the run's rows; one result covering its partitions, with the failing rows named."""
    failures = contracts.validate(schema, frame.reset_index(drop=True))
    keys = sorted(partitions)
    span = f"{keys[0]}..{keys[-1]}" if len(keys) > 1 else (keys[0] if keys else "-")
    metadata: dict = {
        "partitions_checked": dg.MetadataValue.text(f"{len(keys)} ({span})"),
        "rows_checked": dg.MetadataValue.int(len(frame)),
        "failures": dg.MetadataValue.int(len(failures)),
    }
    if failures:
        shown = pd.DataFrame(failures[:MAX_FAILURES_SHOWN]).astype(str)
        metadata["failure_cases"] = dg.MetadataValue.md(shown.to_markdown(index=False))
        description = contracts.summarize_failures(asset_name, failures)
    else:
        description = f"{asset_name}: {len(frame)} rows in {len(keys)} partition(s) satisfy the contract."
    return dg.AssetCheckResult(
        check_name="contract", asset_key=asset_name, passed=not failures, metadata=metadata,
        description=description,
    )


def checked_output(
    asset_name: str,
    value: object,
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    partitions: list[str],
    metadata: dict,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """Validate first, store only what passes.

    A failing contract is still reported as a (failed, blocking) check result, then the step fails with a
    one-line error: the bad rows never reach storage, so no later run can read them either.
    """
    result = contract_check_result(asset_name, frame, schema, partitions)
    if not result.passed:
        yield result
        raise dg.Failure(description=result.description, metadata=result.metadata)
    yield dg.Output(value, metadata=metadata)
    yield result
