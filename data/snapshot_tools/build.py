"""The whole reconstruction: the three tables and their provenance, swapped into the snapshot directory."""

from __future__ import annotations

from pathlib import Path

from sector_forecast.statbank.snapshot import TableState, swap_in_directory, write_snapshot_files
from snapshot_tools.konk import build_tables
from snapshot_tools.provenance import provenance_rows


def reconstruct(real_dir: Path, out_dir: Path, seed: int = 2026) -> list[TableState]:
    """Build the snapshot and swap it into `out_dir` atomically."""
    tables = build_tables(real_dir, seed)
    provenance = provenance_rows(real_dir)
    swap_in_directory(lambda tmp: write_snapshot_files(tmp, tables, provenance), out_dir)
    return tables
