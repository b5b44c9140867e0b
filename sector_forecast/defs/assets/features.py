"""The `features` group: the model features per sector and forecast origin, partitioned by quarter.

A thin wrapper over `domain.features`: the panel's window of quarters in, the features built only from what was
published at each origin out, with the contract and the UI's coverage and column-lineage metadata.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from sector_forecast.contracts import inputs as contracts
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.metadata import column_lineage_metadata, coverage_metadata, frame_metadata
from sector_forecast.defs.partitions import quarter_key_to_label, quarter_label_to_key, quarterly_partitions
from sector_forecast.domain import features

FEATURES_GROUP = "features"


@dg.asset(
    description=(
        "Model features per (sector, origin quarter), as DST had published them at the origin: log "
        "bankruptcy counts of the quarter and four before, rolling means and spread, growth, the sector's "
        "share, the newest published births, quarter-of-year and sector, and the target (next quarter's "
        "bankruptcy count; missing for the newest quarter). History comes through an offset window of "
        f"{features.HISTORY_QUARTERS} quarters back and 1 ahead (the target)."
    ),
    group_name=FEATURES_GROUP,
    partitions_def=quarterly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="parquet_io_manager",
    kinds={"pandas", "parquet"},
    ins={
        "quarterly_panel": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-features.HISTORY_QUARTERS, end_offset=1, allow_nonexistent_upstream_partitions=True
            ),
            metadata={"allow_missing_partitions": True},
        )
    },
    check_specs=[contract_spec("feature_frame")],
    code_version="1",
)
def feature_frame(context: dg.AssetExecutionContext, quarterly_panel: dict[str, pd.DataFrame]) -> Iterator:
    window = pd.concat(quarterly_panel.values(), ignore_index=True)
    quarters = [quarter_key_to_label(k) for k in context.partition_keys]
    missing = [q for q in quarters if quarter_label_to_key(q) not in quarterly_panel]
    if missing:
        raise dg.Failure(f"feature_frame: quarterly_panel is not materialised for {', '.join(missing)}")
    frame = features.build_features(window, quarters)
    parts = {
        quarter_label_to_key(q): part.reset_index(drop=True) for q, part in frame.groupby("quarter", sort=True)
    }
    yield from checked_output(
        "feature_frame", parts, frame, contracts.FEATURE_SCHEMA,
        metadata=frame_metadata(
            frame, **coverage_metadata(frame),
            targets_missing=dg.MetadataValue.int(int(frame["target"].isna().sum())),
            **column_lineage_metadata(features.FEATURE_LINEAGE),
        ),
        partition_metadata=lambda key, rows: {
            **coverage_metadata(rows), "targets_missing": dg.MetadataValue.int(int(rows["target"].isna().sum()))},
    )
