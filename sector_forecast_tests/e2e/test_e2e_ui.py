"""The Dagster web UI as an analyst uses it, in headless Chromium, checked against the GraphQL API.

Each test does in the browser what an analyst does — open the asset graph, an asset's partitions, launch a
partition and a backfill, read a check result and the column lineage — and asks the webserver's GraphQL API
the same question: what the page shows must be what Dagster stores. Screenshots of every step are kept in
test-artifacts/e2e/ (README's pictures come from `scripts/screenshots.py` on a fully materialised instance).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from scripts.ui_pages import hide_navigation, materialize_dialog, open_check
from sector_forecast.defs.definitions import defs
from sector_forecast.defs.partitions import monthly_partitions, period_to_month_key, quarterly_partitions
from sector_forecast.defs.pipeline import published_ranges
from sector_forecast.domain.features import FEATURE_LINEAGE
from sector_forecast.statbank import StatBankClient

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
# The link README gives for the lineage: the UI reads the expanded groups from `expanded` (ui-core's
# AssetGraphExplorer; group ids are `global@global:<group>` unless Dagster+'s per-code-location flag is on).
README_LINEAGE = re.compile(r"http://127\.0\.0\.1:3000(/asset-groups\?expanded=([^>\s]+))")
GROUPS = ["raw", "panel", "features", "models", "evaluation", "forecasts", "monitoring"]  # graph order

ASSET_NODES = "{ assetNodes { assetKey { path } } }"
PARTITIONS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  partitionStats { numMaterialized numPartitions numFailed }
  assetPartitionStatuses { ... on TimePartitionStatuses { ranges { startKey endKey status } } } } } }"""
CHECKS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name blocking executionForLatestMaterialization {
    status evaluation { success description
      metadataEntries { label ... on IntMetadataEntry { intValue } } } } } } } } } }"""
LINEAGE = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  assetMaterializations(limit: 1) { runId partition metadataEntries { label
    ... on TableColumnLineageMetadataEntry {
      lineage { columnName columnDeps { assetKey { path } columnName } } }
  } } } } }"""
RUNS_FOR_PARTITION = """query($value: String!) { runsOrError(filter: {tags: [{key: "dagster/partition",
  value: $value}]}) { ... on Runs { results { runId status } } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill {
    status numPartitions partitionNames runs(limit: 10) { runId status } } } }"""


def partition_stats(ui, asset: str) -> dict:
    return ui.query(PARTITIONS, key={"path": [asset]})["assetNodeOrError"]


def poll(fetch, done, timeout: float, what: str):
    """Call `fetch` until `done(value)`; fail with the last value after `timeout` seconds."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(1)
    raise AssertionError(f"{what}: still {value!r} after {timeout:.0f}s")


def label_matches(label: str, key: str) -> bool:
    """The graph shortens long names in the middle ('backt…_leaderboard')."""
    if "…" not in label:
        return label == key
    head, tail = label.split("…", 1)
    return key.startswith(head) and key.endswith(tail) and len(key) > len(head) + len(tail)


def test_asset_graph_shows_every_asset(page, shots, dagster_ui) -> None:
    in_code = {k.to_user_string() for k in defs.resolve_asset_graph().materializable_asset_keys}
    in_api = {"/".join(n["assetKey"]["path"]) for n in dagster_ui.query(ASSET_NODES)["assetNodes"]}
    assert in_code <= in_api, in_code - in_api

    # README's lineage link, as a reader clicks it: every group expanded without touching the graph's menu.
    link = README_LINEAGE.search(README.read_text())
    assert link, "README.md has no lineage link with expanded groups"
    groups = {spec.group_name for spec in defs.resolve_all_asset_specs()}
    assert link.group(2).split(",") == [f"global@global:{g}" for g in GROUPS] and set(GROUPS) == groups, groups
    # Tall enough for the whole graph at the UI's fitted zoom: nodes outside the viewport are not rendered.
    page.set_viewport_size({"width": 1600, "height": 1800})
    page.goto(link.group(1))
    hide_navigation(page)
    nodes = page.locator("[class*=AssetNode_minimalAssetNodeBox]")
    expect(nodes).to_have_count(len(in_api), timeout=60_000)
    labels = [t.strip() for t in nodes.all_inner_texts()]
    unmatched = [k for k in in_api if not any(label_matches(label, k) for label in labels)]
    assert unmatched == [], f"assets not in the graph: {unmatched} (labels: {labels})"
    # The colour of a node is its partition status: green exactly where the API says every partition is there.
    stats = {key: partition_stats(dagster_ui, key)["partitionStats"] for key in sorted(in_code)}
    complete = [k for k, s in stats.items() if s and s["numMaterialized"] == s["numPartitions"]]
    assert "quarterly_panel" in complete, stats
    for key in complete:
        node = nodes.filter(has=page.get_by_text(key, exact=True))
        expect(node).to_have_attribute("style", re.compile("background-green"), timeout=60_000)
    for key in (k for k, s in stats.items() if s and s["numMaterialized"] == 0):
        expect(nodes.filter(has=page.get_by_text(key, exact=True))).not_to_have_attribute(
            "style", re.compile("background-green"))  # fmt: skip
    shots.take("asset-graph")


def test_partitions_of_an_asset(page, shots, dagster_ui) -> None:
    stats = partition_stats(dagster_ui, "quarterly_panel")["partitionStats"]
    ranges = published_ranges(StatBankClient(base_url=dagster_ui.statbank.url))
    first, last = ranges["panel_job"]
    keys = quarterly_partitions.get_partition_keys()
    published = keys.index(last) - keys.index(first) + 1
    assert stats["numMaterialized"] == published and stats["numFailed"] == 0, stats

    page.goto("/assets/quarterly_panel?view=partitions")
    expect(page.get_by_text(f"Materialized ({published})")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"Missing ({stats['numPartitions'] - published})")).to_be_visible()
    expect(page.get_by_text(last, exact=True).first).to_be_visible()
    shots.take("quarterly-panel-partitions")


def test_materialise_a_new_month(page, shots, dagster_ui) -> None:
    """DST publishes a KONK25 month; the analyst materialises that one partition from the asset's page."""
    published = dagster_ui.statbank.publish("KONK25")
    key = period_to_month_key(published["latestPeriod"])
    if key not in monthly_partitions.get_partition_keys():  # the month has not ended yet on this calendar
        key = published_ranges(StatBankClient(base_url=dagster_ui.statbank.url))["konk25_job"][1]
    before = partition_stats(dagster_ui, "konk25_raw")["partitionStats"]["numMaterialized"]

    dialog = materialize_dialog(page, "/assets/konk25_raw?view=partitions", key)
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    shots.take("materialise-dialog")
    dialog.get_by_role("button", name="Launch 1 run").click()
    expect(dialog).to_be_hidden()

    runs = poll(lambda: dagster_ui.query(RUNS_FOR_PARTITION, value=key)["runsOrError"]["results"],
                lambda rs: bool(rs) and rs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"),
                240, f"run materialising konk25_raw {key}")  # fmt: skip
    assert runs[0]["status"] == "SUCCESS", runs
    node = partition_stats(dagster_ui, "konk25_raw")
    materialised = node["partitionStats"]["numMaterialized"]
    assert materialised == before + (1 if key == period_to_month_key(published["latestPeriod"]) else 0)
    assert any(r["startKey"] <= key <= r["endKey"] and r["status"] == "MATERIALIZED"
               for r in node["assetPartitionStatuses"]["ranges"])  # fmt: skip

    page.goto("/assets/konk25_raw?view=partitions")
    expect(page.get_by_text(f"Materialized ({materialised})")).to_be_visible(timeout=60_000)
    shots.take("konk25-partition-materialised")


def test_backfill_over_two_quarters(page, shots, dagster_ui) -> None:
    keys = quarterly_partitions.get_partition_keys()
    last = published_ranges(StatBankClient(base_url=dagster_ui.statbank.url))["panel_job"][1]
    first = keys[keys.index(last) - 1]

    dialog = materialize_dialog(page, "/locations/sector_forecast/jobs/panel_job/partitions", f"[{first}...{last}]")
    expect(dialog.get_by_text("2 partitions", exact=True)).to_be_visible()
    shots.take("backfill-dialog")
    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_text(re.compile(r"Created backfill \w+"))
    expect(toast).to_be_visible()
    backfill_id = toast.inner_text().split()[-1]

    status = poll(
        lambda: dagster_ui.query(BACKFILL, id=backfill_id)["partitionBackfillOrError"],
        lambda b: b.get("status") not in ("REQUESTED", None), 300, f"backfill {backfill_id}",
    )  # fmt: skip
    assert status["status"] == "COMPLETED_SUCCESS", status
    assert sorted(status["partitionNames"]) == [first, last]
    assert status["runs"] and {r["status"] for r in status["runs"]} == {"SUCCESS"}, status["runs"]
    # A single-run backfill policy: the two quarters of both assets are one run, not one per partition.
    assert len(status["runs"]) == 1

    page.goto("/overview/backfills")
    row = page.locator("[class*=VirtualizedTable_row]").filter(has_text=backfill_id).first
    expect(row).to_contain_text("Success", timeout=60_000)
    shots.take("backfill-completed")


def test_asset_check_result(page, shots, dagster_ui) -> None:
    checks = dagster_ui.query(CHECKS, key={"path": ["quarterly_panel"]})["assetNodeOrError"]
    contract = next(c for c in checks["assetChecksOrError"]["checks"] if c["name"] == "contract")
    latest = contract["executionForLatestMaterialization"]
    assert contract["blocking"] and latest["status"] == "SUCCEEDED" and latest["evaluation"]["success"]
    rows = next(
        m["intValue"] for m in latest["evaluation"]["metadataEntries"] if m["label"] == "rows_checked"
    )

    open_check(page, "quarterly_panel", "contract")
    expect(page.get_by_text("This is a blocking asset check", exact=False)).to_be_visible()
    expect(page.get_by_text("Passed", exact=True).first).to_be_visible()
    expect(page.get_by_text(latest["evaluation"]["description"])).to_be_visible()
    metadata = page.locator("tr").filter(has_text="rows_checked").first
    expect(metadata).to_contain_text(str(rows))
    shots.take("contract-check")


def test_column_lineage(page, shots, dagster_ui) -> None:
    latest = dagster_ui.query(LINEAGE, key={"path": ["feature_frame"]})["assetNodeOrError"][
        "assetMaterializations"
    ][0]
    entry = next(m for m in latest["metadataEntries"] if m["label"] == "dagster/column_lineage")
    lineage = {e["columnName"]: sorted((d["assetKey"]["path"][-1], d["columnName"]) for d in e["columnDeps"])
               for e in entry["lineage"]}  # fmt: skip
    assert lineage == {col: sorted(deps) for col, deps in FEATURE_LINEAGE.items()}

    # Dagster OSS draws no column-lineage graph (a Dagster+ feature) and hides the entry on asset pages; an
    # analyst reads it on the materialisation event of the run, next to the column schema.
    page.goto(f"/runs/{latest['runId']}")
    event = (
        page.locator("[class*=VirtualizedTable_row]")
        .filter(has_text="Materialized value feature_frame")
        .first
    )
    event.scroll_into_view_if_needed()
    event.hover()
    event.get_by_role("button", name="View full message").click()
    message = page.get_by_role("dialog")
    message.locator("tr", has_text="dagster/column_lineage").get_by_text("[Show JSON]").click()
    shown = page.get_by_role("dialog").last
    expect(shown).to_contain_text('"columnName": "log_lag1"')
    expect(shown).to_contain_text('"quarterly_panel"')
    shots.take("feature-frame-column-lineage")
