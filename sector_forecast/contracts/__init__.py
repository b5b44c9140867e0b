"""Pandera data contracts for every edge of the graph: inputs (raw, panel, features), models (fits,
leaderboard, champion, forecasts) and monitoring (prediction log, drift). Schemas only; Dagster runs them as
asset checks in `defs/checks.py`."""
