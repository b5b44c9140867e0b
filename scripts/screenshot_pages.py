"""The pages `scripts/screenshots.py` photographs: a Playwright page wrapper and one function per picture.

Every wait is for page content, never a fixed sleep (see `screenshots.py` for how the UI is started).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from screenshot_graph import graph_area, graph_state, pan_graph

from sector_forecast_tests.e2e.pages import VIEWPORT, graph_menu, hide_navigation, settle

REPO = Path(__file__).resolve().parents[1]

TIMEOUT_MS = 60_000
# The lineage graph draws full nodes (status, checks, partitions) only from this zoom on; below it, bare names.
FULL_NODE_SCALE = 0.62


@dataclass
class Shooter:
    """One browser context on the UI; writes cropped PNGs into `out`."""

    page: object
    out: Path
    written: list[Path]

    # -- waiting and measuring

    def settle(self) -> None:
        settle(self.page, TIMEOUT_MS)

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


def shot_lineage(s: Shooter, query, asset_count: int) -> None:
    """The global asset lineage, every group expanded, vertical, zoomed so that nodes show their status."""
    page = s.page
    page.goto("/asset-groups")
    hide_navigation(page)
    # Seven groups start collapsed (no asset node drawn yet): wait for the graph's own controls instead.
    page.locator("#zoom-slider-container").wait_for()
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
    page.goto(f"/locations/sector_forecast/jobs/{job}/partitions")
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
