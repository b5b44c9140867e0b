"""The pictures `scripts/screenshots.py` takes: one page of the Dagster UI each, cropped and saved as a small PNG.

Pages are opened and waited for by `ui_pages.py` (the e2e tests' helpers), so a UI change is fixed there once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts import ui_pages

TIMEOUT_MS = 60_000
PAD = 24  # around the lineage graph
FULL_NODE_SCALE = 0.62  # the lineage's zoom from which it draws nodes in full (status, checks, partitions)
# The lineage draws only the nodes in the window: one this large holds the whole vertical graph at that zoom.
LINEAGE_WINDOW = {"width": 2800, "height": 2000}

GRAPH_BOX_JS = """() => {
    const boxes = [...document.querySelectorAll('svg foreignObject')].map(e => e.getBoundingClientRect());
    return [Math.min(...boxes.map(r => r.left)), Math.min(...boxes.map(r => r.top)),
            Math.max(...boxes.map(r => r.right)), Math.max(...boxes.map(r => r.bottom))]; }"""


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
