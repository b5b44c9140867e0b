"""What `sector_forecast.defs.dagster_gaps` assumes of Dagster, checked so an upgrade that changes it fails here.

The behaviour itself (one contract evaluation per partition of a single-run backfill, linked to that
partition's materialisation, and downstream steps waiting for the check) is tested end to end in
`test_pipeline_metadata.py` and `test_pipeline_graph.py`; these tests say *which* assumption broke.
"""

import inspect

import dagster as dg

from sector_forecast.defs import dagster_gaps


def test_asset_check_result_still_has_no_partition() -> None:
    # The whole module exists because of this; once Dagster adds it, report with AssetCheckResult(partition=...)
    # and delete dagster_gaps.py.
    params = inspect.signature(dg.AssetCheckResult).parameters
    assert "partition" not in params, "AssetCheckResult takes a partition now: use it and delete defs/dagster_gaps.py"


def test_the_public_evaluation_carries_partition_target_and_blocking() -> None:
    params = inspect.signature(dg.AssetCheckEvaluation).parameters
    assert {"partition", "target_materialization_data", "blocking", "severity"} <= set(params)


def test_the_target_type_builds_from_a_materialisation_record() -> None:
    target = dagster_gaps.TargetMaterialization(storage_id=7, run_id="r", timestamp=1.5)
    evaluation = dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("a"), check_name="contract", passed=True, target_materialization_data=target,
        partition="2024-01-01",
    )
    assert evaluation.target_materialization_data.storage_id == 7 and evaluation.partition == "2024-01-01"


def test_a_selected_check_has_an_output_name_on_its_asset() -> None:
    @dg.asset(check_specs=[dg.AssetCheckSpec("contract", asset="a", blocking=True)])
    def a():  # no return annotation: Dagster reads `None` as a single output, but the check adds one
        return None

    key = dg.AssetCheckKey(dg.AssetKey("a"), "contract")
    assert a.get_output_name_for_asset_check_key(key) in a.op.outs
