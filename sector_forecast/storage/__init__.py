"""Stored asset values and the prediction log as plain files anyone can read: Parquet and JSON (no Dagster)."""
