"""The IO manager: asset values as open files (`storage/values.py`), for single runs and single-run backfills.

Why not `UPathIOManager`: it refuses outputs that cover several partitions, and single-run backfills are
what keeps hundreds of tiny monthly partitions cheap. Here a partitioned asset always returns
`{partition_key: value}` and always receives `{partition_key: value}` for partitioned inputs, whether
one partition or a range is in play. DataFrames are Parquet, dicts JSON with their tables as Parquet beside
it; only fitted estimators are pickled. Every file is written atomically, so an interrupted run never leaves
a half-written file that a later run could read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from sector_forecast.defs.run_process import tag_executing_process
from sector_forecast.storage.values import read_value, write_value

# An input's metadata key: its partitions' pickled entries come as `storage.values.Pickled`, unpickled on demand.
LAZY_PICKLES = "lazy_pickles"


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as `<base_dir>/<asset key>/<partition>.parquet|.json`.

    `base_dir` defaults to the Dagster instance's storage directory, so `sector-forecast run` and
    `dagster dev` on the same `$DAGSTER_HOME` share one store.
    """

    base_dir: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Record the process executing this run (`run_process`): every asset step writes through this IO
        manager, so every run that materialises initialises it, once, in the process that executes it."""
        tag_executing_process(context)

    def root_for(self, instance: dg.DagsterInstance) -> Path:
        """Where assets are kept: `base_dir`, else the instance's storage directory."""
        return Path(self.base_dir) if self.base_dir else Path(instance.storage_directory())

    def _root(self, context: dg.InputContext | dg.OutputContext) -> Path:
        return self.root_for(context.step_context.instance if isinstance(context, dg.OutputContext)
                             else context.instance)

    def _asset_dir(self, context: dg.InputContext | dg.OutputContext) -> Path:
        return self._root(context).joinpath(*context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        directory = self._asset_dir(context)
        if context.has_asset_partitions:
            if not isinstance(obj, dict):
                raise TypeError(
                    f"{context.asset_key.to_user_string()}: a partitioned asset must return "
                    f"{{partition_key: value}}, got {type(obj).__name__}"
                )
            unexpected = set(obj) - set(context.asset_partition_keys)
            if unexpected:
                raise ValueError(
                    f"{context.asset_key.to_user_string()}: returned partitions {sorted(unexpected)} "
                    "that this run does not materialise"
                )
            for key, value in obj.items():
                write_value(directory / key, value)
        else:
            path = write_value(directory / "value", obj)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        directory = self._asset_dir(context)
        if not context.has_asset_partitions:
            return read_value(directory / "value")
        metadata = context.definition_metadata or {}
        allow_missing = bool(metadata.get("allow_missing_partitions", False))
        lazy = bool(metadata.get(LAZY_PICKLES, False))
        loaded: dict[str, Any] = {}
        for key in context.asset_partition_keys:
            try:
                loaded[key] = read_value(directory / key, lazy_pickles=lazy)
            except FileNotFoundError:
                if not allow_missing:
                    raise FileNotFoundError(
                        f"{context.asset_key.to_user_string()} partition {key} is not materialised "
                        f"(looked in {directory})"
                    ) from None
        return loaded
