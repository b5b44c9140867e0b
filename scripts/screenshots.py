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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python scripts/screenshots.py`

from scripts import processes, ui_pages  # noqa: E402
from sector_forecast.domain.periods import quarter_of_start, quarter_offset, quarter_start  # noqa: E402

OUT = processes.REPO / "docs" / "screenshots"
TIMEOUT_MS = 60_000
PAD = 24  # around the lineage graph
FULL_NODE_SCALE = 0.62  # the lineage's zoom from which it draws nodes in full (status, checks, partitions)
# The lineage draws only the nodes in the window: one this large holds the whole vertical graph at that zoom.
LINEAGE_WINDOW = {"width": 2800, "height": 2000}

ASSETS = """{ assetNodes { assetKey { path } isMaterializable
  partitionStats { numMaterialized numPartitions }
  assetMaterializations(limit: 1) { timestamp } } }"""
IN_PROGRESS = """{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) {
  ... on Runs { results { runId jobName status } } } }"""
PARTITION_RANGES = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetPartitionStatuses { ... on TimePartitionStatuses { ranges { endKey status } } } } } }"""
GRAPH_BOX_JS = """() => {
    const boxes = [...document.querySelectorAll('svg foreignObject')].map(e => e.getBoundingClientRect());
    return [Math.min(...boxes.map(r => r.left)), Math.min(...boxes.map(r => r.top)),
            Math.max(...boxes.map(r => r.right)), Math.max(...boxes.map(r => r.bottom))]; }"""

Query = Callable[..., dict]


# ------------------------------------------------------------------------------------------- the instance


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


# --------------------------------------------------------------------------------------------- the pictures


def steady(read: Callable[[], object], what: object) -> object:
    """`read()` once two readings 0.1 s apart agree (dialogs open and graphs zoom with a transition)."""
    last = None
    for _ in range(50):
        now = read()
        if now is not None and now == last:
            return now
        last = now
        time.sleep(0.1)
    raise AssertionError(f"{what} does not settle: {last}")


@dataclass
class Shooter:
    """One page of the UI; writes cropped 8-bit PNGs into `out`."""

    page: object
    out: Path
    written: list[Path] = field(default_factory=list)

    def box(self, locator) -> dict:
        locator.wait_for(state="visible")
        return steady(locator.bounding_box, locator)

    def save(self, name: str, clip: dict) -> None:
        """The part `clip` of the window (cut to the window) as `<name>.png`, quantised to 256 colours."""
        from PIL import Image

        size = self.page.viewport_size
        x, y = max(clip["x"], 0), max(clip["y"], 0)
        clip = {"x": x, "y": y, "width": min(clip["width"], size["width"] - x),
                "height": min(clip["height"], size["height"] - y)}
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), clip=clip, animations="disabled", caret="hide")
        with Image.open(path) as image:  # UI screenshots have few colours; the repository keeps them small
            small = image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
        small.save(path, optimize=True)
        self.written.append(path)
        print(f"screenshots: wrote {path} ({path.stat().st_size // 1024} KiB)", flush=True)

    def fit(self, locator, pad: int) -> dict:
        """The element's box once the window is tall enough to show it whole (the UI scrolls inside panels)."""
        ui_pages.settle(self.page, TIMEOUT_MS)
        box, size = self.box(locator), self.page.viewport_size
        if box["y"] + box["height"] + pad + 40 > size["height"]:
            height = int(box["y"] + box["height"] + pad + 40)
            self.page.set_viewport_size({"width": size["width"], "height": height})
            self.page.wait_for_function("h => window.innerHeight >= h", arg=height)
            ui_pages.settle(self.page, TIMEOUT_MS)
        return self.box(locator)

    def save_box(self, name: str, locator) -> None:
        """An element, whole, with a one-pixel margin (a dialog)."""
        box = self.fit(locator, 0)
        self.save(name, {"x": box["x"] - 1, "y": box["y"] - 1, "width": box["width"] + 2, "height": box["height"] + 2})

    def save_page(self, name: str, bottom, pad: int = 16) -> None:
        """From the top of the page down to the bottom of the element `bottom`, right of the navigation rail."""
        end, nav = self.fit(bottom, pad), self.box(self.page.locator("nav[class*=MainNavigation]").first)
        left = nav["x"] + nav["width"] + 4
        self.save(name, {"x": left, "y": 0, "width": self.page.viewport_size["width"] - left,
                         "height": end["y"] + end["height"] + pad})

    def save_markdown(self, name: str, key: str) -> None:
        """Open the `[Show Markdown]` of metadata entry `key`, photograph the dialog, close it."""
        ui_pages.metadata_row(self.page, key).get_by_text("[Show Markdown]").click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_role("button", name="Close").wait_for()
        for image in dialog.locator("img").all():  # plots are PNG data URIs: wait until decoded
            image.evaluate("img => img.decode()")
        self.save_box(name, dialog)
        dialog.get_by_role("button", name="Close").click()
        dialog.wait_for(state="hidden")


def shot_lineage(s: Shooter, asset_count: int) -> None:
    """The global asset lineage, every group expanded, vertical, every node drawn in full."""
    page = s.page
    page.goto("/asset-groups")
    ui_pages.hide_navigation(page)
    page.locator("#zoom-slider-container").wait_for()  # groups start collapsed: no node to wait for yet
    ui_pages.graph_menu(page, "Expand all groups")
    ui_pages.graph_menu(page, "Change graph to vertical orientation")
    page.set_viewport_size(LINEAGE_WINDOW)
    page.reload()  # the graph fits itself into the window on load, too small to draw nodes in full
    page.locator("[class*=AssetNode_]").first.wait_for()
    slider = page.locator("#zoom-slider-container [role=slider]")
    while float(slider.get_attribute("aria-valuenow")) < FULL_NODE_SCALE:
        page.locator("#zoom-slider-container button").filter(has=page.locator("[aria-label=zoom_in]")).click()
    # Zooming moves the graph out of view, and nodes out of view are not drawn: scroll its top left corner
    # to the top left of the free space (below the floating search bar) until nothing new comes into view.
    area = page.locator("[class*=AssetGraphExplorer_svgContainer]").locator("xpath=../..").bounding_box()
    bar = page.get_by_role("button", name="Materialize all…").bounding_box()
    target = (area["x"] + PAD, bar["y"] + bar["height"] + 2 * PAD)
    for _ in range(20):  # a wheel step scrolls the graph by about half its pixels: repeat until it is there
        left, top, _, _ = steady(lambda: page.evaluate(GRAPH_BOX_JS), "the lineage graph")
        if abs(left - target[0]) < 2 and abs(top - target[1]) < 2:
            break
        page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
        page.mouse.wheel(left - target[0], top - target[1])
    full = page.locator("svg foreignObject").filter(has_text="Latest event")
    assert full.count() >= asset_count, f"{full.count()} nodes drawn in full of {asset_count}: enlarge LINEAGE_WINDOW"
    ui_pages.settle(page, TIMEOUT_MS)
    left, top, right, bottom = steady(lambda: page.evaluate(GRAPH_BOX_JS), "the lineage graph")
    s.save("asset-graph", {"x": left - PAD, "y": top - PAD, "width": right - left + 2 * PAD,
                           "height": bottom - top + 2 * PAD})


def shot_check(s: Shooter, asset: str, check: str, name: str) -> None:
    """An asset's Checks tab with one check opened: blocking or not, latest result, partition, metadata."""
    ui_pages.open_check(s.page, asset, check)
    s.page.get_by_text("Latest execution", exact=True).wait_for()
    s.page.get_by_text("Evaluation result", exact=True).wait_for()
    s.save_page(name, s.page.get_by_text("Metadata", exact=True).last.locator("xpath=following-sibling::*[1]"))


def shot_metadata(s: Shooter, path: str, name: str, needs: list[str], dialogs: dict[str, str] | None = None,
                  until: str | None = None) -> None:
    """A materialisation's metadata (`path`: an asset's Events tab, or one partition), down to entry `until`
    (default: the whole table), then its markdown entries `dialogs` ({key: picture}), each in its dialog."""
    s.page.goto(path)
    for key in needs:
        ui_pages.metadata_row(s.page, key).wait_for()
    if until:
        s.save_page(name, ui_pages.metadata_row(s.page, until), pad=1)
    else:
        s.save_page(name, s.page.locator("table").filter(has=ui_pages.metadata_row(s.page, needs[0])).last)
    for key, picture in (dialogs or {}).items():
        s.save_markdown(picture, key)
    s.page.set_viewport_size(ui_pages.VIEWPORT)  # for a next picture in the same window


def shot_backfill_dialog(s: Shooter, job: str, first: str, last: str) -> None:
    """The launch dialog of a backfill over two quarters, cancelled without launching."""
    path = f"/locations/sector_forecast/jobs/{job}/partitions"
    dialog = ui_pages.materialize_dialog(s.page, path, f"[{first}...{last}]")
    dialog.get_by_text("2 partitions", exact=True).wait_for()
    s.save_box("backfill-dialog", dialog)
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    dialog.wait_for(state="hidden")


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
