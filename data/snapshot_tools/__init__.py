"""Offline tools that rebuilt the bundled StatBank snapshot from the few real DST figures (not shipped in the
runtime package: the pipeline only ever reads `data/statbank`, through the StatBank client).

    PYTHONPATH=data .venv/bin/python -m snapshot_tools --real-data data/real --out data/statbank --seed 2026
"""
