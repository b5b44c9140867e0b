"""Metadata an analyst reads in the Dagster UI: row counts, schemas, previews, markdown tables and plots."""

from __future__ import annotations

import base64
import io
from typing import Any

import dagster as dg
import pandas as pd

_TYPE_NAMES = {"i": "int", "u": "int", "f": "float", "b": "bool", "O": "string", "M": "datetime"}
_NULLABLE_TYPES = {"Int64", "Float64", "string"}


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


def markdown_table(df: pd.DataFrame, max_rows: int = 20, floatfmt: str = ".4g") -> str:
    shown = df.head(max_rows)
    text = shown.to_markdown(index=False, floatfmt=floatfmt)
    if len(df) > max_rows:
        text += f"\n\n… {len(df) - max_rows} more rows"
    return text


def frame_metadata(df: pd.DataFrame, preview_rows: int = 10, **extra: Any) -> dict[str, Any]:
    """Standard metadata for a DataFrame output: `dagster/row_count`, `dagster/column_schema`, a preview."""
    return {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "dagster/column_schema": column_schema(df),
        "preview": dg.MetadataValue.md(markdown_table(df, preview_rows)),
        **extra,
    }


def figure_markdown(fig: Any, title: str = "") -> dg.MetadataValue:
    """A matplotlib figure embedded as a PNG data URI, the way Dagster's UI shows images in markdown."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    heading = f"### {title}\n\n" if title else ""
    return dg.MetadataValue.md(f"{heading}![{title or 'plot'}](data:image/png;base64,{encoded})")
