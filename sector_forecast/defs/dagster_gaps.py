"""The one place that relies on Dagster beyond its public API: per-partition check results in a range run.

What is missing (dagster 1.13.27): `AssetCheckResult` has no partition. In a run of several partitions (a
single-run backfill) Dagster turns it into one evaluation with `partition=None`, while it planned one
evaluation per partition of the run; those stay "planned" for ever. The public `dg.AssetCheckEvaluation`
carries a `partition` and an asset may yield it, but two things `AssetCheckResult` does for us are then
left to the caller:

1. the check's step output (`Output(None)` under the check's output name), which the steps behind a
   blocking check wait for; `assets_def.get_output_name_for_asset_check_key` names it;
2. the link from an evaluation to the materialisation it judged (`target_materialization_data`), whose
   type `dagster` does not export.

`sector_forecast_tests/pipeline/test_dagster_gaps.py` fails on an upgrade that changes either, or that gives
`AssetCheckResult` a partition (then report with it and delete this module).
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

# Not exported by `dagster` 1.13: the type of `AssetCheckEvaluation.target_materialization_data`.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as TargetMaterialization,
)


def check_step_output(context: dg.AssetExecutionContext, check_key: dg.AssetCheckKey) -> Iterator[dg.Output]:
    """What `AssetCheckResult` yields for a selected check besides its evaluation: the step output."""
    if check_key in context.selected_asset_check_keys:
        yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))


def run_materializations(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, TargetMaterialization]:
    """This run's materialisation of each partition in `keys`, as an evaluation's target."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=max(len(keys), 1)
    ).records
    out: dict[str, TargetMaterialization] = {}
    for record in records:
        key = record.partition_key
        if record.run_id == context.run.run_id and key is not None and key not in out:
            out[key] = TargetMaterialization(storage_id=record.storage_id, run_id=record.run_id,
                                             timestamp=record.timestamp)
    return out
