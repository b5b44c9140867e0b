"""Dagster assets, one module per stage of the pipeline diagram (raw → panel → features → models → monitoring)."""
