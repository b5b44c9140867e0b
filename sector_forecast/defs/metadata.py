"""Metadata an analyst reads in the Dagster UI: row counts, schemas, previews, markdown tables and plots."""

from __future__ import annotations

import math
from typing import Any

import dagster as dg
import pandas as pd

DIGITS = 3  # what a reader compares at a glance; the raw values stay in the stored JSON/Parquet and in MLflow
_TYPE_NAMES = {"i": "int", "u": "int", "f": "float", "b": "bool", "O": "string", "M": "datetime"}
_NULLABLE_TYPES = {"Int64", "Float64", "string"}


def rounded(value: float, digits: int = DIGITS) -> float:
    """`value` to `digits` decimals, or to `digits` significant figures when that would print 0 (a p-value of
    3e-07 keeps its size); NaN and infinities as they are."""
    if not math.isfinite(value):
        return value
    short = round(value, digits)
    return float(f"{value:.{digits}g}") if short == 0 and value != 0 else short


def number(value: float | None, digits: int = DIGITS) -> dg.MetadataValue:
    """A float rounded for reading in the UI (`0.0784313725490196` shows as `0.078`); None shows as NaN.

    Display only: the raw value stays in the stored JSON/Parquet and in MLflow.
    """
    return dg.MetadataValue.float(float("nan") if value is None else rounded(float(value), digits))


def rounded_frame(df: pd.DataFrame, digits: int = DIGITS) -> pd.DataFrame:
    """The frame with its float columns rounded for display (markdown tables, previews); other columns untouched."""
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    return df.assign(**{str(c): df[c].map(lambda v: rounded(v, digits), na_action="ignore") for c in floats})


def column_schema(df: pd.DataFrame, descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=str(col),
                type=str(dtype) if str(dtype) in _NULLABLE_TYPES else _TYPE_NAMES.get(dtype.kind, str(dtype)),
                description=descriptions.get(str(col)),
            )
            for col, dtype in df.dtypes.items()
        ]
    )


def markdown_table(df: pd.DataFrame, max_rows: int = 20, digits: int = DIGITS, floatfmt: str | None = None) -> str:
    """The first `max_rows` rows as markdown, floats rounded to `digits` decimals (trailing zeros dropped)."""
    shown = rounded_frame(df.head(max_rows), digits)
    # "g" with ample precision prints the rounded value as it is (0.078, 132.21), where tabulate's default pads
    # to six decimals and a short "g" turns 12345.0 into 1.234e+04. `floatfmt` overrides it for a caller's table.
    text = shown.to_markdown(index=False, floatfmt=floatfmt or f".{digits + 6}g")
    if len(df) > max_rows:
        text += f"\n\n… {len(df) - max_rows} more rows"
    return text


def schema_descriptions(schema: Any | None) -> dict[str, str]:
    """The `description=` of each column of a Pandera schema: what the UI's column schema shows."""
    columns = getattr(schema, "columns", None) or {}
    return {str(name): column.description for name, column in columns.items() if column.description}


def frame_metadata(df: pd.DataFrame, preview_rows: int = 10, schema: Any | None = None, **extra: Any) -> dict[str, Any]:
    """Standard metadata for a DataFrame output: `dagster/row_count`, `dagster/column_schema` (described by the
    Pandera `schema` of its contract, if given), a preview with floats rounded for reading."""
    return {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "dagster/column_schema": column_schema(df, schema_descriptions(schema)),
        "preview": dg.MetadataValue.md(markdown_table(df, preview_rows)),
        **extra,
    }


def with_descriptions(metadata: dict[str, Any], schema: Any | None) -> dict[str, Any]:
    """`metadata` with the column descriptions of `schema` filled into its `dagster/column_schema`, if any.

    Lets the contract helpers describe the columns of every asset they check, whoever built the metadata.
    """
    table = metadata.get("dagster/column_schema")
    descriptions = schema_descriptions(schema)
    if not isinstance(table, dg.TableSchema) or not descriptions:
        return metadata
    columns = [dg.TableColumn(name=c.name, type=c.type, description=c.description or descriptions.get(c.name),
                              constraints=c.constraints, tags=c.tags) for c in table.columns]
    return {**metadata, "dagster/column_schema": dg.TableSchema(columns=columns, constraints=table.constraints)}


def figure_markdown(fig: Any, title: str = "") -> dg.MetadataValue:
    """A matplotlib figure embedded as a PNG data URI, the way Dagster's UI shows images in markdown."""
    from sector_forecast.reports.plots import png_base64  # matplotlib only where a figure is drawn

    encoded = png_base64(fig, dpi=80)
    heading = f"### {title}\n\n" if title else ""
    return dg.MetadataValue.md(f"{heading}![{title or 'plot'}](data:image/png;base64,{encoded})")


def column_lineage_metadata(lineage: dict[str, list[tuple[str, str]]]) -> dict[str, dg.MetadataValue]:
    """Column lineage for the API (`dagster/column_lineage`) and, readable on the asset page, as markdown.

    Dagster OSS hides the structured entry on asset pages (its lineage graph is a Dagster+ feature).
    """
    rows = "\n".join(
        f"| `{column}` | {', '.join(f'`{asset}.{col}`' for asset, col in deps)} |" for column, deps in lineage.items()
    )
    return {
        "dagster/column_lineage": dg.TableColumnLineage(
            deps_by_column={
                column: [dg.TableColumnDep(asset_key=dg.AssetKey(asset), column_name=col) for asset, col in deps]
                for column, deps in lineage.items()
            }
        ),
        "column_lineage": dg.MetadataValue.md(f"| column | derived from |\n|---|---|\n{rows}"),
    }


def coverage_metadata(frame: pd.DataFrame) -> dict:
    quarters = sorted(frame["quarter"].unique())
    nowcast = (frame["births_provenance"] == "nowcast").mean() if "births_provenance" in frame else None
    md = {
        "first_quarter": dg.MetadataValue.text(quarters[0] if quarters else "-"),
        "last_quarter": dg.MetadataValue.text(quarters[-1] if quarters else "-"),
        "quarters": dg.MetadataValue.int(len(quarters)),
    }
    if nowcast is not None:
        md["share_nowcast_births"] = number(float(nowcast))
    return md


# --- Metadata of a run that materialises several partitions at once (single-run backfills) -----------------
#
# Dagster copies an `Output`'s metadata onto the materialisation event of *every* partition the run
# materialises (dagster/_core/execution/plan/execute_step.py, `_get_output_asset_events`), and lets
# `context.add_asset_metadata(..., partition_key=k)` override it for partition `k`. So a figure about the
# whole run, passed as Output metadata, reads as each partition's own figure on that partition's page.

RUN_PREFIX = "run/"
# Entries that are true of every partition a run materialises, whatever its range: kept as they are.
SHARED_KEYS = frozenset({
    "dagster/column_lineage", "column_lineage", "dagster/column_schema", "dagster/uri", "dagster/table_name",
    "dagster/relation_identifier", "dagster/code_references",
})
# Entries computed per partition from the partition's own rows (`frame_metadata`): the run's version of
# `preview` is dropped, its row count is kept as `run/row_count`.
_PER_PARTITION_KEYS = {"dagster/row_count": f"{RUN_PREFIX}row_count", "preview": None}


def run_metadata(
    metadata: dict[str, Any], partition_keys: list[str], shared: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """The Output metadata of a run over `partition_keys`, labelled so that no run-wide figure reads as a partition's.

    A run of one partition (or an unpartitioned asset) covers exactly that partition: its metadata is
    returned unchanged. A run of several: entries in `SHARED_KEYS` or `shared` stay; `preview` is dropped
    and `dagster/row_count` becomes `run/row_count` (both are recomputed per partition); every other entry
    (ranges, counts, the last origin's parameters, ...) is prefixed `run/`, so the page of one partition
    shows e.g. `run/quarters 71` next to its own `dagster/row_count 10`, never `quarters 71` as its own
    figure. `run/partitions` names the run's range. Prefixing rather than dropping keeps the run's
    context (which backfill materialised this partition, and what it covered) one click away.
    """
    keys = sorted(partition_keys)
    if len(keys) <= 1:
        return dict(metadata)
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key in SHARED_KEYS or key in shared or key.startswith(RUN_PREFIX):
            out[key] = value
        elif key in _PER_PARTITION_KEYS:
            if _PER_PARTITION_KEYS[key]:
                out[_PER_PARTITION_KEYS[key]] = value
        else:
            out[RUN_PREFIX + key] = value
    out[f"{RUN_PREFIX}partitions"] = dg.MetadataValue.text(f"{len(keys)}: {keys[0]}..{keys[-1]}")
    return out
