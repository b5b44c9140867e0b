"""All the evidence from the graph: `sector-forecast run` on the bundled snapshot into an empty home, then `evaluate`.

    .venv/bin/python benchmarks/forecast_quality.py [--readme] [--keep]

Prints `sector-forecast evaluate` (text), then `--json`, every figure read from what the assets stored: the
backtest and gate at horizon 1 and per horizon 1–4 (docs/horizons.md), the monitors' false-alarm rates on the
bundled data and on simulated null panels, and their detection grid. `--readme` replaces README's block
between `<!-- evidence:start -->` and `<!-- evidence:end -->` and writes the fan chart to `docs/fan-chart.png`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import REPO, cli, cold_run, fresh_home, machine

START, END = "<!-- evidence:start -->", "<!-- evidence:end -->"


def replace_block(text: str, evidence: str) -> str:
    """README with the evidence block between the markers replaced by ``evidence`` in a text fence."""
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} … {END} block")
    head, rest = text.split(START, 1)
    return f"{head}{START}\n```text\n{evidence.rstrip()}\n```\n{END}{rest.split(END, 1)[1]}"


def write_fan_chart(home: Path, path: Path) -> None:
    """The forecasts page's fan chart from the run just made (history from every stored panel quarter)."""
    import pandas as pd

    from sector_forecast.defs.resources import StatBankResource
    from sector_forecast.reports import plots
    from sector_forecast.storage.values import read_parquet, read_stored

    root = home / "storage"
    panel = pd.concat([read_parquet(f) for f in sorted((root / "quarterly_panel").glob("*.parquet"))],
                      ignore_index=True)
    label = StatBankResource.from_env().data_label()  # the bundled snapshot, as the run read it
    path.write_bytes(plots.fan_chart(panel, read_stored(root, "forecasts"), note=label))
    print(f"(fan chart written to {path.relative_to(REPO)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="write the text into README.md's evidence block")
    parser.add_argument("--keep", action="store_true", help="keep the Dagster home")
    args = parser.parse_args()
    print(machine())
    with fresh_home(keep=args.keep) as home:
        print(f"sector-forecast run: {cold_run(home)[0]:.0f} s (bundled snapshot, empty home)\n")
        text = cli(home, "evaluate")
        print(text)
        print(cli(home, "evaluate", "--json"))
        if args.readme:
            write_fan_chart(home, REPO / "docs" / "fan-chart.png")
    if args.readme:
        readme = REPO / "README.md"
        readme.write_text(replace_block(readme.read_text(), text))
        print("(README.md evidence block replaced)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
