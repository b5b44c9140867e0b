"""Dagster assets, one module per stage of the pipeline diagram (raw → panel → features → models → monitoring).

Two beta APIs are used on purpose, with Dagster pinned (pyproject.toml): `backfill_policy` (single-run
backfills keep hundreds of tiny partitions cheap) and `allow_nonexistent_upstream_partitions` (windows that
reach before 2009 or past the newest month). Dagster warns at every definition; the filter sits here, before
any asset module is imported, so `run`, `dagster dev`'s code server and the tests are all quiet about exactly
these two and nothing else.
"""

import warnings

import dagster as dg

DELIBERATE_BETA = r"Parameter `(backfill_policy|allow_nonexistent_upstream_partitions)` of "
warnings.filterwarnings("ignore", message=DELIBERATE_BETA, category=dg.BetaWarning)
