#!/usr/bin/env python
"""Screenshots of the Dagster UI for README.md and docs/ui.md, taken from an instance `sector-forecast run` filled.

    .venv/bin/python scripts/screenshots.py --fresh        # run the pipeline into a temporary $DAGSTER_HOME first
    DAGSTER_HOME=~/sf .venv/bin/python scripts/screenshots.py    # an instance you filled with `sector-forecast run`

Starts `sector-forecast ui` on a free port of 127.0.0.1 against that `$DAGSTER_HOME` (with this process's
environment, so SECTOR_FORECAST_STATBANK_URL, SECTOR_FORECAST_NOW and MLFLOW_TRACKING_URI must be what the run
used), waits for the code location, checks through GraphQL that every asset has been materialised and that no
run is in progress, then drives Debian's headless Chromium (/usr/bin/chromium through Playwright, as the e2e
tests do; nothing is downloaded) through the pages below and writes one PNG per page into docs/screenshots/.
Every wait is for page content, never a fixed sleep. The UI is stopped at the end, also on failure; `--fresh`
removes its temporary instance too. Nothing is launched or changed in the instance: the backfill dialog is
opened and closed without launching.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sector_forecast_tests.deploy.services import (  # noqa: E402
    background,
    descendants,
    free_port,
    graphql_over_http,
    killing_tree,
    log_tail,
    wait_until,
)
from sector_forecast_tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

VENV_BIN = Path(sys.executable).parent
OUT = REPO / "docs" / "screenshots"
VIEWPORT = {"width": 1600, "height": 1000}
TIMEOUT_MS = 60_000
# The lineage graph draws full nodes (status, checks, partitions) only from this zoom on; below it, bare names.
FULL_NODE_SCALE = 0.62

ASSETS = """{ assetNodes { assetKey { path } isMaterializable
  partitionStats { numMaterialized numPartitions }
  assetMaterializations(limit: 1) { timestamp } } }"""
IN_PROGRESS = """{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) {
  ... on Runs { results { runId jobName status } } } }"""
PARTITION_RANGES = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetPartitionStatuses { ... on TimePartitionStatuses { ranges { endKey status } } } } } }"""
WORKSPACE = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename } } } } }"""


# ------------------------------------------------------------------------------------------- the instance


def instance_summary(query: Callable[..., dict]) -> list[str]:
    """Fail unless every asset has been materialised; return a note per asset with partitions still missing."""
    nodes = [n for n in query(ASSETS)["assetNodes"] if n["isMaterializable"]]
    never = ["/".join(n["assetKey"]["path"]) for n in nodes if not n["assetMaterializations"]]
    if never:
        raise SystemExit(f"never materialised: {', '.join(sorted(never))}. Run `sector-forecast run` on this "
                         "$DAGSTER_HOME first (or pass --fresh).")
    notes = []
    for n in nodes:
        stats = n["partitionStats"]
        if stats and stats["numMaterialized"] < stats["numPartitions"]:
            notes.append(f"{'/'.join(n['assetKey']['path'])}: {stats['numMaterialized']} of "
                         f"{stats['numPartitions']} partitions materialised")
    return sorted(notes)


def newest_materialised_partition(query: Callable[..., dict], asset: str) -> str:
    node = query(PARTITION_RANGES, key={"path": [asset]})["assetNodeOrError"]
    ranges = [r for r in node["assetPartitionStatuses"]["ranges"] if r["status"] == "MATERIALIZED"]
    if not ranges:
        raise SystemExit(f"{asset} has no materialised partition")
    return max(r["endKey"] for r in ranges)


def previous_quarter_key(key: str) -> str:
    """`2026-07-01` -> `2026-04-01` (quarterly partition keys are the quarters' first days)."""
    year, month = int(key[:4]), int(key[5:7])
    year, month = (year, month - 3) if month > 3 else (year - 1, month + 9)
    return f"{year:04d}-{month:02d}-01"


def wait_for_idle_instance(query: Callable[..., dict], timeout: float = 900) -> None:
    """The daemon may launch runs of its own (sensors, automation): wait until none is queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        runs = query(IN_PROGRESS)["runsOrError"]["results"]
        if not runs:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"runs still in progress after {timeout:.0f}s: {runs}")
        print(f"screenshots: waiting for {len(runs)} run(s) the daemon launched: "
              + ", ".join(f"{r['jobName']} {r['status']}" for r in runs), flush=True)
        time.sleep(10)


# --------------------------------------------------------------------------------------------- the browser


@dataclass
class Shooter:
    """One browser context on the UI; writes cropped PNGs into `out`."""

    page: object
    out: Path
    written: list[Path]

    # -- waiting and measuring

    def settle(self) -> None:
        """Wait until the page has stopped loading: no spinner or loading skeleton left on screen."""
        busy = self.page.locator("[class*=Spinner], [class*=Skeleton], [class*=skeleton]")
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while busy.filter(visible=True).count() and time.monotonic() < deadline:
            self.page.wait_for_timeout(200)
        try:
            self.page.wait_for_load_state("networkidle", timeout=5_000)
        except Exception:  # the UI polls GraphQL; a page that never goes quiet is fine once its content is there
            pass

    def grow_to(self, bottom: float, margin: int = 40) -> None:
        """Make the viewport tall enough to show everything down to `bottom` (the UI scrolls inside panels)."""
        size = self.page.viewport_size
        if bottom + margin > size["height"]:
            self.page.set_viewport_size({"width": size["width"], "height": int(bottom + margin)})
            self.page.wait_for_function("h => window.innerHeight >= h", arg=int(bottom + margin))

    def box(self, locator) -> dict:
        """The element's box once it has stopped moving (dialogs open with a transition)."""
        locator.wait_for(state="visible")
        last = None
        for _ in range(50):
            box = locator.bounding_box()
            if box is not None and box == last:
                return box
            last = box
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{locator} does not settle: {last}")

    def row(self, key: str):
        """The metadata table row whose key cell is exactly `key`."""
        return self.page.locator("tr").filter(
            has=self.page.locator("td:first-child", has_text=re.compile(rf"^\s*{re.escape(key)}\s*$"))).first

    def main_left(self) -> float:
        """Left edge of the page's content, right of the navigation rail."""
        nav = self.box(self.page.locator("nav[class*=MainNavigation]").first)
        return nav["x"] + nav["width"] + 4

    # -- writing

    def save(self, name: str, clip: dict) -> Path:
        size = self.page.viewport_size
        x, y = max(clip["x"], 0), max(clip["y"], 0)
        clip = {"x": x, "y": y, "width": min(clip["width"], size["width"] - x),
                "height": min(clip["height"], size["height"] - y)}
        path = self.out / f"{name}.png"
        self.page.screenshot(path=str(path), clip=clip, animations="disabled", caret="hide")
        shrink(path)
        self.written.append(path)
        print(f"screenshots: wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path} "
              f"({path.stat().st_size // 1024} KiB)", flush=True)
        return path

    def save_page(self, name: str, bottom_locator, pad: int = 16) -> Path:
        """From the top of the page to the bottom of `bottom_locator`, right of the navigation."""
        self.grow_to(self.box(bottom_locator)["y"] + self.box(bottom_locator)["height"] + pad)
        self.settle()
        end = self.box(bottom_locator)
        left = self.main_left()
        return self.save(name, {"x": left, "y": 0, "width": self.page.viewport_size["width"] - left,
                                "height": end["y"] + end["height"] + pad})

    def save_markdown(self, name: str, key: str) -> Path:
        """Open the `[Show Markdown]` of metadata entry `key`, photograph the dialog, close it."""
        self.row(key).get_by_text("[Show Markdown]").click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_role("button", name="Close").wait_for()
        self.grow_to(self.box(dialog)["height"] + 80)
        for image in dialog.locator("img").all():  # plots are PNG data URIs: wait until decoded
            image.evaluate("img => img.decode()")
        self.settle()
        box = self.box(dialog)
        path = self.save(name, {"x": box["x"] - 1, "y": box["y"] - 1,
                                "width": box["width"] + 2, "height": box["height"] + 2})
        dialog.get_by_role("button", name="Close").click()
        dialog.wait_for(state="hidden")
        return path

    def reset_viewport(self) -> None:
        self.page.set_viewport_size(VIEWPORT)


def shrink(path: Path) -> None:
    """An 8-bit palette PNG: UI screenshots have few colours, and the repository keeps them small."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def hide_navigation(page) -> None:
    """Collapse Dagster's left navigation to its icon rail (kept in the context's local storage)."""
    page.locator("nav[class*=MainNavigation]").first.wait_for()
    if not page.locator("nav[class*=MainNavigation_collapsed]").count():
        page.get_by_role("button", name="Hide navigation").click()
        page.locator("nav[class*=MainNavigation_collapsed]").wait_for()


def graph_menu(page, item: str) -> None:
    page.locator("#zoom-slider-container").get_by_role("button", name="settings").click()
    page.get_by_role("menuitem", name=item).click()
    page.keyboard.press("Escape")
    page.get_by_role("menuitem").first.wait_for(state="hidden")


# ------------------------------------------------------------------------------------------------ the shots


GRAPH_BOX_JS = """() => {
    const boxes = [...document.querySelectorAll('svg foreignObject')].map(e => e.getBoundingClientRect());
    return [Math.min(...boxes.map(r => r.left)), Math.min(...boxes.map(r => r.top)),
            Math.max(...boxes.map(r => r.right)), Math.max(...boxes.map(r => r.bottom))]; }"""


def graph_state(page) -> tuple[float, list[float]]:
    """The lineage's zoom and the box of everything it draws, once the drawing has stopped moving."""
    slider = page.locator("#zoom-slider-container [role=slider]")
    last = None
    for _ in range(50):
        now = (float(slider.get_attribute("aria-valuenow")), page.evaluate(GRAPH_BOX_JS))
        if now == last:
            return now
        last = now
        page.wait_for_timeout(100)
    raise AssertionError(f"the lineage graph does not settle: {last}")


def graph_area(page) -> dict:
    """The part of the window where the lineage graph shows unobstructed: below the bar (asset search,
    Materialize all…) that floats over it, left of the zoom buttons."""
    inner = page.locator("[class*=AssetGraphExplorer_svgContainer]").evaluate(
        "e => { const r = e.parentElement.parentElement.getBoundingClientRect();"
        " return {x: r.left, y: r.top, width: r.width, height: r.height}; }")
    search = page.get_by_role("button", name="Materialize all…").bounding_box()
    zoom = page.locator("#zoom-slider-container").bounding_box()
    top = max(inner["y"], search["y"] + search["height"] + 20) if search else inner["y"]
    right = min(inner["x"] + inner["width"], zoom["x"] - 8) if zoom else inner["x"] + inner["width"]
    return {"x": inner["x"], "y": top, "width": right - inner["x"], "height": inner["y"] + inner["height"] - top}


EMPTY_POINT_JS = """([dx, dy]) => {
    // A point of the graph's own background (not a node, an edge or a toolbar over the graph) from which a
    // drag by (dx, dy) stays inside the window.
    const svg = document.querySelector('[class*=AssetGraphExplorer_svgContainer]');
    const area = svg.parentElement.parentElement.getBoundingClientRect();
    for (let y = area.top + 8; y < area.bottom - 8; y += 16) {
        for (let x = area.left + 8; x < area.right - 8; x += 16) {
            if (x + dx < 0 || y + dy < 0 || x + dx > innerWidth || y + dy > innerHeight) continue;
            const hit = document.elementFromPoint(x, y);
            if (hit && (hit === svg || hit === svg.parentElement || hit === svg.parentElement.parentElement))
                return [x, y];
        }
    }
    return null;
}"""


def pan_graph(page, dx: float, dy: float) -> None:
    """Drag the graph by (dx, dy), pressing on empty background (a press on a node would select it)."""
    point = page.evaluate(EMPTY_POINT_JS, [dx, dy])
    if point is None:
        raise AssertionError(f"no empty background to drag the graph by ({dx:.0f}, {dy:.0f})")
    x, y = point
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


def shot_lineage(s: Shooter, query, asset_count: int) -> None:
    """The global asset lineage, every group expanded, vertical, zoomed so that nodes show their status."""
    page = s.page
    page.goto("/asset-groups")
    hide_navigation(page)
    page.locator("[class*=AssetNode_]").first.wait_for()
    graph_menu(page, "Expand all groups")
    graph_menu(page, "Change graph to vertical orientation")
    page.reload()  # the graph fits itself into the window on load
    page.locator("[class*=AssetNode_]").first.wait_for()
    scale, box = graph_state(page)
    # Zoom in until nodes are drawn in full, make the window large enough for the whole graph, pan it into view.
    pad = 24
    zoom_in = page.locator("#zoom-slider-container button").filter(has=page.locator("[aria-label=zoom_in]"))
    while scale < FULL_NODE_SCALE:
        zoom_in.click()
        scale, box = graph_state(page)
    # Nodes far outside the window are not drawn, so the graph's box can grow as it comes into view: repeat.
    for _ in range(6):
        area, size = graph_area(page), page.viewport_size
        need_w = box[2] - box[0] + 2 * pad + (size["width"] - area["x"] - area["width"])
        need_h = box[3] - box[1] + 2 * pad + (size["height"] - area["y"] - area["height"])
        if area["x"] + need_w > size["width"] or area["y"] + need_h > size["height"]:
            page.set_viewport_size({"width": max(size["width"], int(area["x"] + need_w) + 1),
                                    "height": max(size["height"], int(area["y"] + need_h) + 1)})
            scale, box = graph_state(page)
            area = graph_area(page)
        dx, dy = area["x"] + pad - box[0], area["y"] + pad - box[1]
        if abs(dx) < 1 and abs(dy) < 1:
            break
        pan_graph(page, dx, dy)
        scale, box = graph_state(page)
    full = page.locator("svg foreignObject").filter(has_text="Latest event")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while full.count() < asset_count and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert full.count() >= asset_count, f"{full.count()} nodes drawn in full of {asset_count} assets"
    s.settle()
    scale, box = graph_state(page)
    area = graph_area(page)
    assert (box[0] >= area["x"] and box[1] >= area["y"] and box[2] <= area["x"] + area["width"]
            and box[3] <= area["y"] + area["height"]), f"the graph {box} does not fit into {area}"
    s.save("asset-graph", {"x": box[0] - pad, "y": box[1] - pad,
                           "width": box[2] - box[0] + 2 * pad, "height": box[3] - box[1] + 2 * pad})


def shot_check(s: Shooter, asset: str, check: str, name: str) -> None:
    """An asset's Checks tab with one check opened: blocking or not, latest result, partition, metadata."""
    page = s.page
    page.goto(f"/assets/{asset}?view=checks")
    page.locator("[class*=AssetChecks_checkRow]").filter(has=page.get_by_text(check, exact=True)).first.click()
    page.get_by_text("Latest execution", exact=True).wait_for()
    page.get_by_text("Evaluation result", exact=True).wait_for()
    s.settle()
    s.save_page(name, page.get_by_text("Metadata", exact=True).last.locator("xpath=following-sibling::*[1]"))


def shot_events(s: Shooter, asset: str, name: str, needs: list[str], dialogs: dict[str, str],
                until: str | None = None) -> None:
    """The asset's latest materialisation (Events tab), down to metadata entry `until` (default: all), and its
    markdown entries `dialogs`, each opened in its own dialog."""
    page = s.page
    page.goto(f"/assets/{asset}?view=events")
    for key in needs:
        s.row(key).wait_for()
    s.settle()
    if until:
        s.save_page(name, s.row(until), pad=1)
    else:
        s.save_page(name, page.locator("table").filter(has=s.row(needs[0])).last)
    for key, shot in dialogs.items():
        s.save_markdown(shot, key)
    s.reset_viewport()


def shot_partition(s: Shooter, asset: str, partition: str, name: str, needs: list[str],
                   dialogs: dict[str, str] | None = None) -> None:
    """One partition of an asset (Partitions tab): its own materialisation and metadata."""
    page = s.page
    page.goto(f"/assets/{asset}?view=partitions&partition={partition}")
    for key in needs:
        s.row(key).wait_for()
    s.settle()
    s.save_page(name, page.locator("table").filter(has=s.row(needs[0])).last)
    for key, shot in (dialogs or {}).items():
        s.save_markdown(shot, key)
    s.reset_viewport()


def shot_backfill_dialog(s: Shooter, job: str, first: str, last: str) -> None:
    """The launch dialog of a backfill over two quarters, closed again without launching."""
    page = s.page
    page.goto(f"/locations/sector_forecast/defs/jobs/{job}/partitions")
    page.get_by_role("button", name="Materialize…").first.click()
    dialog = page.get_by_role("dialog")
    selection = dialog.locator("input[type=text]").first
    selection.fill(f"[{first}...{last}]")
    selection.press("Enter")
    dialog.get_by_text("2 partitions", exact=True).wait_for()
    s.settle()
    box = s.box(dialog)
    s.save("backfill-dialog", {"x": box["x"] - 1, "y": box["y"] - 1,
                               "width": box["width"] + 2, "height": box["height"] + 2})
    dialog.get_by_role("button", name="Cancel", exact=True).click()
    dialog.wait_for(state="hidden")


def take_all(url: str, query, out: Path, only: set[str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    asset_count = len([n for n in query(ASSETS)["assetNodes"] if n["isMaterializable"]])
    newest_quarter = newest_materialised_partition(query, "quarterly_panel")
    newest_origin = newest_materialised_partition(query, "drift_report")
    newest_month = newest_materialised_partition(query, "konk25_raw")
    previous_quarter = previous_quarter_key(newest_quarter)

    shots: dict[str, Callable[[Shooter], None]] = {
        "asset-graph": lambda s: shot_lineage(s, query, asset_count),
        "asset-check": lambda s: shot_check(s, "quarterly_panel", "contract", "asset-check"),
        "partitions": lambda s: shot_partition(
            s, "quarterly_panel", newest_quarter, "partitions", ["dagster/row_count"]),
        "backfill-dialog": lambda s: shot_backfill_dialog(s, "panel_job", previous_quarter, newest_quarter),
        "provenance": lambda s: shot_partition(
            s, "konk25_raw", newest_month, "provenance", ["table_cells_real_share", "modelled_cells_real_share"]),
        "leaderboard": lambda s: shot_events(
            s, "backtest_leaderboard", "leaderboard-metadata", ["graded_origins", "leaderboard"],
            {"leaderboard": "leaderboard", "per_sector_coverage": "leaderboard-coverage",
             "score_distribution": "leaderboard-score-distribution"}),
        "champion": lambda s: shot_events(
            s, "champion_model", "champion", ["decision", "gate_pvalue"], {}, until="registered_model"),
        "forecasts": lambda s: shot_events(
            s, "forecasts", "forecasts", ["forecast_quarter", "plot"],
            {"forecasts": "forecasts-table", "plot": "forecasts-plot"}),
        "drift": lambda s: (
            shot_partition(s, "drift_report", newest_origin, "drift-report", ["data_drift", "alarm"]),
            shot_check(s, "drift_report", "data_drift", "drift-checks"),
        ),
    }
    unknown = only - set(shots)
    if unknown:
        raise SystemExit(f"unknown shot(s) {sorted(unknown)}; choose from {sorted(shots)}")
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (installs Debian's chromium)")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for label, take in shots.items():
                if only and label not in only:
                    continue
                # The lineage is drawn at 1.5x so that its small node text stays legible; pages at 1x.
                context = browser.new_context(viewport=VIEWPORT, base_url=url,
                                              device_scale_factor=1.5 if label == "asset-graph" else 1)
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                shooter = Shooter(page, out, written)
                try:
                    page.goto("/")
                    hide_navigation(page)
                    take(shooter)
                except Exception as err:  # keep going: report every page that failed, with its last screen
                    debug = Path(tempfile.gettempdir()) / f"screenshots-{label}-failed.png"
                    page.screenshot(path=str(debug))
                    print(f"screenshots: {label} FAILED ({err.__class__.__name__}: {str(err)[:500]}); "
                          f"last screen in {debug}", file=sys.stderr, flush=True)
                    failed.append(label)
                finally:
                    context.close()
        finally:
            browser.close()
    if failed:
        raise SystemExit(f"screenshots failed: {', '.join(failed)}")
    return written


# ----------------------------------------------------------------------------------------------- the UI


def run_pipeline(env: dict[str, str], log: Path) -> None:
    print(f"screenshots: sector-forecast run into {env['DAGSTER_HOME']} (log {log})", flush=True)
    with log.open("wb") as out:
        code = subprocess.call([str(VENV_BIN / "sector-forecast"), "run"], cwd=REPO, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        raise SystemExit(f"sector-forecast run exited with {code}:\n{log_tail(log)}")


def with_ui(home: Path, env: dict[str, str], workdir: Path, out: Path, only: set[str]) -> list[Path]:
    """Start `sector-forecast ui` on a free port, take the screenshots, stop it and everything it started."""
    port = free_port()
    log = workdir / "ui.log"
    url = f"http://127.0.0.1:{port}"
    query_http = graphql_over_http(f"{url}/graphql")

    def query(document: str, **variables: object) -> dict:
        return query_http(document, variables)

    def loaded() -> bool:
        try:
            entries = query(WORKSPACE)["workspaceOrError"].get("locationEntries") or []
        except Exception:
            return False
        return any((e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries)

    print(f"screenshots: sector-forecast ui --port {port} on {home} (log {log})", flush=True)
    cmd = [str(VENV_BIN / "sector-forecast"), "ui", "--port", str(port)]
    # `background` stops the group of `sector-forecast ui`; `dagster dev` runs in a session of its own, which
    # `ui` stops on SIGTERM and waits for, and which `killing_tree` SIGKILLs should anything be left.
    with background(cmd, log, env) as ui, killing_tree(ui) as tree:
        try:
            wait_until(loaded, "sector-forecast ui", 300, ui, log)
            tree.update(descendants(ui.pid))
            for note in instance_summary(query):
                print(f"screenshots: note: {note}", flush=True)
            wait_for_idle_instance(query)
            return take_all(url, query, out, only)
        finally:
            tree.update(descendants(ui.pid))
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
