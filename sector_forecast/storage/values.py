"""Asset values on disk in open formats: a DataFrame as Parquet, a dict as JSON with its tables beside it.

`<base>.parquet` holds a DataFrame. A dict (the leaderboard, the champion, a fit) is `<base>.json`: plain values
inline, each DataFrame entry as `{"$parquet": "_parts/<file>"}` naming a Parquet file in the `_parts` folder
beside it, and only what neither format can hold — the fitted estimator objects of a fit — as
`{"$pickle": "_parts/<file>"}`. So pandas, DuckDB or `jq`
read every result without our classes; only a fitted model needs Python (MLflow holds the same models too).

Every file is written to a temporary name and renamed. A dict's side files carry a fresh token in their names
and the JSON is written last, so a reader sees the old complete value or the new one, never a mix; side files
the new JSON no longer names are removed afterwards.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pyarrow.fs import LocalFileSystem

from sector_forecast.domain.jsonable import to_json

_FORMATS = (".parquet", ".json", ".pkl")
PARTS = "_parts"  # a dict's tables and estimators, beside the JSON files that name them


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


def read_parquet(path: Path) -> pd.DataFrame:
    """`pd.read_parquet` with Arrow opening the file itself.

    By default pandas hands Arrow a Python file object that Arrow's thread pool may release after the read
    returns; released during interpreter shutdown, it aborts the process (exit 134, apache/arrow#34314).
    """
    return pd.read_parquet(path, filesystem=LocalFileSystem())


def _write_bundle(base: Path, value: dict) -> Path:
    token = uuid.uuid4().hex[:8]
    doc: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{PARTS}/{base.name}.{key}.{token}"
        if isinstance(item, pd.DataFrame):
            atomic_write(base.parent / f"{name}.parquet", lambda tmp, f=item: f.to_parquet(tmp, index=False))
            doc[key] = {"$parquet": f"{name}.parquet"}
            continue
        try:
            doc[key] = to_json(item, strict=True)
        except TypeError:
            atomic_write(base.parent / f"{name}.pkl", lambda tmp, o=item: tmp.write_bytes(pickle.dumps(o)))
            doc[key] = {"$pickle": f"{name}.pkl"}
    path = base.with_suffix(".json")
    # NaN and ±Infinity are written as JSON's common extension (Python, pandas, jq 1.7 read them), so a
    # missing p-value stays a float instead of turning into null or a string.
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(doc, indent=1)))
    _drop_parts(base, keep={ref for v in doc.values() if isinstance(v, dict)
                            for ref in (v.get("$parquet"), v.get("$pickle")) if ref})
    return path


def _drop_parts(base: Path, keep: set[str] | frozenset[str] = frozenset()) -> None:
    """Remove the side files of `base` that the stored value no longer names."""
    for stale in (base.parent / PARTS).glob(f"{base.name}.*.*"):
        if f"{PARTS}/{stale.name}" not in keep:
            stale.unlink(missing_ok=True)


def write_value(base: Path, value: Any) -> Path:
    """Store `value` under `base` (no suffix) in the most open format it fits; drop any other format's file."""
    if isinstance(value, pd.DataFrame):
        path = base.with_suffix(".parquet")
        atomic_write(path, lambda tmp: value.to_parquet(tmp, index=False))
    elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
        path = _write_bundle(base, value)
    else:
        path = base.with_suffix(".pkl")
        atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(value)))
    if path.suffix != ".json":
        _drop_parts(base)
    for suffix in _FORMATS:
        if suffix != path.suffix:
            base.with_suffix(suffix).unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class Pickled:
    """A dict entry stored as a pickle, not yet unpickled: `load()` does it.

    Unpickling a fitted estimator imports its library (scikit-learn, XGBoost: seconds in a fresh run worker);
    a reader that wants the other entries of a fit only (`backtest_leaderboard`) asks for these instead.
    """

    path: Path

    def load(self) -> Any:
        return pickle.loads(self.path.read_bytes())


def _restore(item: Any, directory: Path, lazy_pickles: bool) -> Any:
    if isinstance(item, dict) and "$parquet" in item:
        return read_parquet(directory / item["$parquet"])
    if isinstance(item, dict) and "$pickle" in item:
        pickled = Pickled(directory / item["$pickle"])
        return pickled if lazy_pickles else pickled.load()
    return item


def read_value(base: Path, lazy_pickles: bool = False) -> Any:
    """What `write_value` stored under `base`; FileNotFoundError when nothing is there.

    `lazy_pickles`: a dict's pickled entries come back as `Pickled` (unpickled on `load()`), the rest as stored.
    """
    parquet, bundle, pkl = (base.with_suffix(s) for s in _FORMATS)
    if parquet.exists():
        return read_parquet(parquet)
    if bundle.exists():
        doc = json.loads(bundle.read_text())
        return {k: _restore(v, base.parent, lazy_pickles) for k, v in doc.items()}
    if pkl.exists():
        return pickle.loads(pkl.read_bytes())
    raise FileNotFoundError(str(base))


def read_stored(root: Path, asset: str, partition: str | None = None) -> Any:
    """Read what the IO manager stored for an asset (partition), outside a Dagster run."""
    return read_value(root / asset / (partition or "value"))
