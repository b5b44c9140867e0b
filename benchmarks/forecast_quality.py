"""All the evidence from the graph: `sector-forecast run` on the bundled snapshot into an empty home, then `evaluate`.

    .venv/bin/python benchmarks/forecast_quality.py [--readme] [--keep]

Prints `sector-forecast evaluate` (text), then `sector-forecast evaluate --json`. Every figure is read from what
the assets stored: the backtest and the gate (`backtest_leaderboard`, `champion_model`) at horizon 1 and, in the
*horizons* section and `by_horizon`, at each horizon 1–4 (MASE per model, the champion's coverage overall and per
sector, each horizon's gate; docs/horizons.md), the monitors'
false-alarm rates per monitor on the bundled data (`drift_report`), on simulated null panels and their detection
grid (`monitor_evaluation`). With `--readme` the text replaces README's block between `<!-- evidence:start -->`
and `<!-- evidence:end -->`, and the forecasts' fan chart is written to `docs/fan-chart.png`. A cold run costs
~3–5 min on two cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from _common import CLI, REPO, clean_env, fresh_home, machine

START, END = "<!-- evidence:start -->", "<!-- evidence:end -->"


def sector_forecast(*args: str, env: dict[str, str]) -> str:
    """Run the CLI; its stdout, or exit with its output's tail naming the command."""
    done = subprocess.run([CLI, *args], env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"sector-forecast {' '.join(args)} failed (exit {done.returncode}):\n"
                 f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


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
        env = clean_env(DAGSTER_HOME=str(home))
        started = time.perf_counter()
        sector_forecast("run", env=env)
        print(f"sector-forecast run: {time.perf_counter() - started:.0f} s (bundled snapshot, empty home)\n")
        text = sector_forecast("evaluate", env=env)
        print(text)
        print(sector_forecast("evaluate", "--json", env=env))
        if args.readme:
            write_fan_chart(home, REPO / "docs" / "fan-chart.png")
    if args.readme:
        readme = REPO / "README.md"
        readme.write_text(replace_block(readme.read_text(), text))
        print("(README.md evidence block replaced)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
