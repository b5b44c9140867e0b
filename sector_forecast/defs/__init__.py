"""Everything Dagster, in the order of the lineage graph: `definitions.py` builds the one `Definitions` from the
partitions, resources and IO manager, `assets/` (one module per lineage group), `checks.py` (the Pandera
contracts as asset checks), `sensors/`, `automation.py`, `freshness.py` and `jobs.py`.
"""
