"""Rebuild the offline snapshot from the real figures with the seeded generator (same seed, same bytes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from snapshot_tools.build import reconstruct

DATA = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m snapshot_tools", description=__doc__)
    parser.add_argument("--real-data", type=Path, default=DATA / "real")
    parser.add_argument("--out", type=Path, default=DATA / "statbank")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    for state in reconstruct(args.real_data, args.out, args.seed):
        print(f"{state.id}: {len(state.data)} cells, {state.meta['firstPeriod']}..{state.meta['latestPeriod']}")
    print(f"snapshot written to {args.out}")


if __name__ == "__main__":
    main()
