"""Pandera data contracts for every edge of the graph: inputs (raw, panel, features), models (fits,
leaderboard, champion, forecasts) and monitoring (prediction log, drift); `columns` holds what several share
and `validation` runs a contract into readable failures. Dagster runs them as asset checks in `defs/checks.py`."""
