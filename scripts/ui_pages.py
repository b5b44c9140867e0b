"""The Dagster UI's pages in a browser, for the e2e tests and `scripts/screenshots.py` alike.

Debian's Chromium (/usr/bin/chromium) driven by Playwright, nothing downloaded; every wait is for page
content, never a fixed sleep. Not a test module: no fixtures, no assertions of a test's own. A selector
the UI changes is fixed here once, for the tests and the screenshots together.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1600, "height": 1000}
WORKSPACE = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium, headless, with the flags this machine's closed network needs; closed on exit."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright gives every launch a new, empty profile directory of its own and removes it afterwards.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def ui_page(browser, url: str, timeout_ms: int, scale: float = 1) -> Iterator[object]:
    """A page of the UI at `url` in a fresh browser context (its own storage), closed on exit."""
    context = browser.new_context(viewport=VIEWPORT, base_url=url, device_scale_factor=scale)
    context.set_default_timeout(timeout_ms)
    try:
        yield context.new_page()
    finally:
        context.close()


def location_loaded(query: Callable[[str], dict]) -> bool:
    """Whether the UI behind `query` (GraphQL) has loaded the sector_forecast code location."""
    try:
        entries = query(WORKSPACE)["workspaceOrError"].get("locationEntries") or []
    except Exception:  # not up yet, or answering an error while it starts
        return False
    return any((e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation" for e in entries)


def hide_navigation(page) -> None:
    """Collapse Dagster's left navigation to its icon rail (kept in the context's local storage)."""
    page.locator("nav[class*=MainNavigation]").first.wait_for()
    if not page.locator("nav[class*=MainNavigation_collapsed]").count():
        page.get_by_role("button", name="Hide navigation").click()
        page.locator("nav[class*=MainNavigation_collapsed]").wait_for()


def settle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the page has stopped loading: no spinner or loading skeleton left on screen."""
    busy = page.locator("[class*=Spinner], [class*=Skeleton], [class*=skeleton]")
    deadline = time.monotonic() + timeout_ms / 1000
    while busy.filter(visible=True).count() and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    try:
        page.wait_for_load_state("networkidle", timeout=5_000)
    except Exception:  # the UI polls GraphQL; a page that never goes quiet is fine once its content is there
        pass


def graph_menu(page, item: str) -> None:
    """Pick `item` of the lineage graph's settings menu (e.g. "Expand all groups") and close the menu."""
    page.locator("#zoom-slider-container").get_by_role("button", name="settings").click()
    page.get_by_role("menuitem", name=item).click()
    page.keyboard.press("Escape")
    page.get_by_role("menuitem").first.wait_for(state="hidden")


def materialize_dialog(page, path: str, selection: str):
    """Open `path`'s *Materialize…* dialog and type the partition `selection` (a key or `[first...last]`)."""
    page.goto(path)
    page.get_by_role("button", name="Materialize…").first.click()
    dialog = page.get_by_role("dialog")
    field = dialog.locator("input[type=text]").first
    field.fill(selection)
    field.press("Enter")
    return dialog


def open_check(page, asset: str, check: str) -> None:
    """Open an asset's Checks tab with `check` selected (its latest result and metadata on the right)."""
    page.goto(f"/assets/{asset}?view=checks")
    page.locator("[class*=AssetChecks_checkRow]").filter(has=page.get_by_text(check, exact=True)).first.click()


def metadata_row(page, key: str):
    """The row of a metadata table whose key cell is exactly `key`."""
    key_cell = page.locator("td:first-child", has_text=re.compile(rf"^\s*{re.escape(key)}\s*$"))
    return page.locator("tr").filter(has=key_cell).first
