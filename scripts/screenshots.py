#!/usr/bin/env python
"""Screenshots of the Dagster UI for README.md and docs/ui.md, taken from an instance `sector-forecast run` filled.

    .venv/bin/python scripts/screenshots.py --fresh        # run the pipeline into a temporary $DAGSTER_HOME first
    DAGSTER_HOME=~/sf .venv/bin/python scripts/screenshots.py    # an instance you filled with `sector-forecast run`

Starts `sector-forecast ui` on a free port of 127.0.0.1 against that `$DAGSTER_HOME` (with this process's
environment, so SECTOR_FORECAST_STATBANK_URL, SECTOR_FORECAST_NOW and MLFLOW_TRACKING_URI must be what the run
used), checks through GraphQL that every asset has been materialised and that no run is in progress, then
photographs the pages below in Debian's headless Chromium and writes one PNG per picture into docs/screenshots/.
The pages are opened and waited for by `ui_pages.py`, the e2e tests' helpers, so a UI change is fixed there
once for both. Nothing is launched or changed in the instance (the backfill dialog is cancelled); the UI is
stopped at the end, also on failure, and `--fresh` removes its temporary instance.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python scripts/screenshots.py`

from scripts import processes, ui_pages  # noqa: E402
from scripts.ui_shots import (  # noqa: E402
    TIMEOUT_MS,
    Shooter,
    shot_backfill_dialog,
    shot_check,
    shot_lineage,
    shot_metadata,
)
from sector_forecast.domain.periods import quarter_of_start, quarter_offset, quarter_start  # noqa: E402

OUT = processes.REPO / "docs" / "screenshots"
ASSETS = """{ assetNodes { assetKey { path } isMaterializable
  partitionStats { numMaterialized numPartitions }
  assetMaterializations(limit: 1) { timestamp } } }"""
IN_PROGRESS = """{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) {
  ... on Runs { results { runId jobName status } } } }"""
PARTITION_RANGES = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetPartitionStatuses { ... on TimePartitionStatuses { ranges { endKey status } } } } } }"""
Query = Callable[..., dict]


# ------------------------------------------------------------------------- the instance and the pictures


def materialised_assets(query: Query) -> int:
    """How many assets there are; fails unless each has been materialised, and notes partitions still missing."""
    nodes = [n for n in query(ASSETS)["assetNodes"] if n["isMaterializable"]]
    never = ["/".join(n["assetKey"]["path"]) for n in nodes if not n["assetMaterializations"]]
    if never:
        raise SystemExit(f"never materialised: {', '.join(sorted(never))}. Run `sector-forecast run` on this "
                         "$DAGSTER_HOME first (or pass --fresh).")
    for n in nodes:
        stats = n["partitionStats"]
        if stats and stats["numMaterialized"] < stats["numPartitions"]:
            print(f"screenshots: note: {'/'.join(n['assetKey']['path'])}: {stats['numMaterialized']} of "
                  f"{stats['numPartitions']} partitions materialised", flush=True)
    return len(nodes)


def newest_partition(query: Query, asset: str) -> str:
    node = query(PARTITION_RANGES, key={"path": [asset]})["assetNodeOrError"]
    ranges = [r for r in node["assetPartitionStatuses"]["ranges"] if r["status"] == "MATERIALIZED"]
    if not ranges:
        raise SystemExit(f"{asset} has no materialised partition")
    return max(r["endKey"] for r in ranges)


def wait_for_idle_instance(query: Query, timeout: float = 900) -> None:
    """The daemon may launch runs of its own (sensors, automation): wait until none is queued or running."""
    deadline = time.monotonic() + timeout
    while runs := query(IN_PROGRESS)["runsOrError"]["results"]:
        if time.monotonic() > deadline:
            raise SystemExit(f"runs still in progress after {timeout:.0f}s: {runs}")
        print(f"screenshots: waiting for {len(runs)} run(s) the daemon launched: "
              + ", ".join(f"{r['jobName']} {r['status']}" for r in runs), flush=True)
        time.sleep(10)


def shots(query: Query) -> dict[str, Callable[[Shooter], None]]:
    """Every picture by its `--only` name: what it opens and what it keeps."""
    assets = materialised_assets(query)
    quarter, month = newest_partition(query, "quarterly_panel"), newest_partition(query, "konk25_raw")
    origin = newest_partition(query, "drift_report")
    previous = quarter_start(quarter_offset(quarter_of_start(quarter), -1))  # keys are the quarters' first days

    def partition(asset: str, key: str) -> str:
        return f"/assets/{asset}?view=partitions&partition={key}"

    def events(asset: str) -> str:
        return f"/assets/{asset}?view=events"

    return {
        "asset-graph": lambda s: shot_lineage(s, assets),
        "asset-check": lambda s: shot_check(s, "quarterly_panel", "contract", "asset-check"),
        "partitions": lambda s: shot_metadata(s, partition("quarterly_panel", quarter), "partitions",
                                              ["dagster/row_count"]),
        "backfill-dialog": lambda s: shot_backfill_dialog(s, "panel_job", previous, quarter),
        "provenance": lambda s: shot_metadata(s, partition("konk25_raw", month), "provenance",
                                              ["table_cells_real_share", "modelled_cells_real_share"]),
        "leaderboard": lambda s: shot_metadata(
            s, events("backtest_leaderboard"), "leaderboard-metadata", ["graded_origins", "leaderboard"],
            {"leaderboard": "leaderboard", "per_sector_coverage": "leaderboard-coverage",
             "score_distribution": "leaderboard-score-distribution"}),
        "champion": lambda s: shot_metadata(s, events("champion_model"), "champion", ["decision", "gate_pvalue"],
                                            until="registered_model"),
        "forecasts": lambda s: shot_metadata(s, events("forecasts"), "forecasts", ["forecast_quarter", "plot"],
                                             {"forecasts": "forecasts-table", "plot": "forecasts-plot"}),
        "drift": lambda s: (
            shot_metadata(s, partition("drift_report", origin), "drift-report", ["data_drift", "alarm"]),
            shot_check(s, "drift_report", "data_drift", "drift-checks"),
        ),
    }


def take_all(url: str, query: Query, out: Path, only: set[str]) -> list[Path]:
    """Each picture in a fresh browser context; a failed one is reported with its last screen, the rest go on."""
    todo = shots(query)
    if only - set(todo):
        raise SystemExit(f"unknown shot(s) {sorted(only - set(todo))}; choose from {sorted(todo)}")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    failed: list[str] = []
    with ui_pages.chromium() as browser:
        for label, take in todo.items():
            if only and label not in only:
                continue
            # The lineage is drawn at 1.5x so that its small node text stays legible; pages at 1x.
            with ui_pages.ui_page(browser, url, TIMEOUT_MS, scale=1.5 if label == "asset-graph" else 1) as page:
                try:
                    page.goto("/")
                    ui_pages.hide_navigation(page)
                    take(Shooter(page, out, written))
                except Exception as err:  # keep going: report every page that failed, with its last screen
                    debug = Path(tempfile.gettempdir()) / f"screenshots-{label}-failed.png"
                    page.screenshot(path=str(debug))
                    print(f"screenshots: {label} FAILED ({err.__class__.__name__}: {str(err)[:500]}); "
                          f"last screen in {debug}", file=sys.stderr, flush=True)
                    failed.append(label)
    if failed:
        raise SystemExit(f"screenshots failed: {', '.join(failed)}")
    return written


# ----------------------------------------------------------------------------------------------- the UI


def run_pipeline(env: dict[str, str], log: Path) -> None:
    print(f"screenshots: sector-forecast run into {env['DAGSTER_HOME']} (log {log})", flush=True)
    with log.open("wb") as out:
        code = subprocess.call([str(processes.VENV_BIN / "sector-forecast"), "run"], cwd=processes.REPO, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"sector-forecast run exited with {code}:\n{processes.log_tail(log)}")


def with_ui(home: Path, env: dict[str, str], workdir: Path, out: Path, only: set[str]) -> list[Path]:
    """Start `sector-forecast ui` on a free port, take the screenshots, stop it and everything it started."""
    port, log = processes.free_port(), workdir / "ui.log"
    url = f"http://127.0.0.1:{port}"
    graphql = processes.graphql_over_http(f"{url}/graphql")

    def query(document: str, **variables: object) -> dict:
        return graphql(document, variables)

    print(f"screenshots: sector-forecast ui --port {port} on {home} (log {log})", flush=True)
    cmd = [str(processes.VENV_BIN / "sector-forecast"), "ui", "--port", str(port)]
    # `background` stops the group of `sector-forecast ui`; `dagster dev` runs in a session of its own, which
    # `ui` stops on SIGTERM and waits for, and which `killing_tree` SIGKILLs should anything be left.
    with processes.background(cmd, log, env) as ui, processes.killing_tree(ui) as tree:
        try:
            processes.wait_until(lambda: ui_pages.location_loaded(query), "sector-forecast ui", 300, ui, log)
            tree.update(processes.descendants(ui.pid))
            wait_for_idle_instance(query)
            return take_all(url, query, out, only)
        finally:
            tree.update(processes.descendants(ui.pid))
            if ui.poll() is None:
                ui.send_signal(signal.SIGTERM)
                try:
                    ui.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    pass
            print("screenshots: UI stopped", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--home", type=Path, help="the $DAGSTER_HOME to show (default: $DAGSTER_HOME)")
    where.add_argument("--fresh", action="store_true",
                       help="first run `sector-forecast run` into a temporary $DAGSTER_HOME (removed afterwards)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the PNGs go (default: {OUT})")
    parser.add_argument("--only", action="append", default=[],
                        help="take only this shot (repeatable): asset-graph, asset-check, partitions, "
                             "backfill-dialog, provenance, leaderboard, champion, forecasts, drift")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sector-forecast-screenshots-"))
    try:
        if args.fresh:
            home = workdir / "dagster_home"
        elif args.home or os.environ.get("DAGSTER_HOME"):
            home = (args.home or Path(os.environ["DAGSTER_HOME"])).expanduser().resolve()
            if not (home / "dagster.yaml").exists():
                raise SystemExit(f"{home} holds no Dagster instance: run `sector-forecast run` with "
                                 "DAGSTER_HOME set to it first, or pass --fresh")
        else:
            raise SystemExit("set DAGSTER_HOME (an instance `sector-forecast run` filled), --home, or --fresh")
        env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        if args.fresh:
            run_pipeline(env, workdir / "run.log")
        written = with_ui(home, env, workdir, args.out.resolve(), set(args.only))
        print(f"screenshots: {len(written)} file(s) in {args.out}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
