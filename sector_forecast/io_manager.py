"""Parquet IO manager that writes atomically and handles single-run backfills.

Why not `UPathIOManager`: it refuses outputs that cover several partitions, and single-run backfills are
what keeps hundreds of tiny monthly partitions cheap. Here a partitioned asset always returns
`{partition_key: value}` and always receives `{partition_key: value}` for partitioned inputs, whether
one partition or a range is in play. DataFrames are Parquet; anything else (fitted models) is pickled.
Every file is written to a temporary name in the same directory and renamed, so an interrupted run
never leaves a half-written file that a later run could read.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pyarrow.fs import LocalFileSystem


def atomic_write(path: Path, write: Any) -> None:
    """Call `write(tmp_path)` then rename over `path`: readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_value(base: Path, value: Any) -> Path:
    if isinstance(value, pd.DataFrame):
        path = base.with_suffix(".parquet")
        atomic_write(path, lambda tmp: value.to_parquet(tmp, index=False))
        base.with_suffix(".pkl").unlink(missing_ok=True)
    else:
        path = base.with_suffix(".pkl")
        atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(value)))
        base.with_suffix(".parquet").unlink(missing_ok=True)
    return path


def read_parquet(path: Path) -> pd.DataFrame:
    """`pd.read_parquet` with Arrow opening the file itself.

    By default pandas hands Arrow a Python file object that Arrow's thread pool may release after the read
    returns; released during interpreter shutdown, it aborts the process (exit 134, apache/arrow#34314).
    """
    return pd.read_parquet(path, filesystem=LocalFileSystem())


def _read_value(base: Path) -> Any:
    parquet = base.with_suffix(".parquet")
    if parquet.exists():
        return read_parquet(parquet)
    pkl = base.with_suffix(".pkl")
    if pkl.exists():
        return pickle.loads(pkl.read_bytes())
    raise FileNotFoundError(str(parquet))


def read_stored(root: Path, asset: str, partition: str | None = None) -> Any:
    """Read what the IO manager stored for an asset (partition), outside a Dagster run."""
    return _read_value(root / asset / (partition or "value"))


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as `<base_dir>/<asset key>/<partition>.parquet`.

    `base_dir` defaults to the Dagster instance's storage directory, so `sector-forecast run` and
    `dagster dev` on the same `$DAGSTER_HOME` share one store.
    """

    base_dir: str | None = None

    def _root(self, context: dg.InputContext | dg.OutputContext) -> Path:
        if self.base_dir:
            return Path(self.base_dir)
        instance = context.step_context.instance if isinstance(context, dg.OutputContext) else context.instance
        return Path(instance.storage_directory())

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
                _write_value(directory / key, value)
        else:
            path = _write_value(directory / "value", obj)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        directory = self._asset_dir(context)
        if not context.has_asset_partitions:
            return _read_value(directory / "value")
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions", False))
        loaded: dict[str, Any] = {}
        for key in context.asset_partition_keys:
            try:
                loaded[key] = _read_value(directory / key)
            except FileNotFoundError:
                if not allow_missing:
                    raise FileNotFoundError(
                        f"{context.asset_key.to_user_string()} partition {key} is not materialised "
                        f"(looked in {directory})"
                    ) from None
        return loaded
