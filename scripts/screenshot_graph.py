"""The lineage graph page: its zoom and its free space, read from the page itself (its menu: `e2e/pages.py`)."""

from __future__ import annotations

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
