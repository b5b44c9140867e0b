"""The parts of speed.py that go through `dagster dev`: a live publication, and a UI backfill.

Each part prepares one Dagster home (cold `sector-forecast run`, then one `dagster dev` start so that the
sensors' first ticks and cursors are behind us), keeps a copy, and restores it before every repetition, so
the N repetitions measure the same change from the same state. Servers run in their own process groups and
are stopped by the context managers that started them; the temporary directories are removed at the end.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
from _common import fresh_home
from _speed_dev import dagster_dev, restore_home, save_home, settle
from _speed_hops import (
    median_worker_start,
    print_hops,
    print_repeated,
    repeated_partitions,
    run_hops,
    wait_for_assets,
    wait_idle,
)
from incremental import busy, cold_setup, materialised_since

from sector_forecast_tests.statbank_server import running_statbank_server, snapshot_without_last_quarter_month

LIVE_ASSETS = ["forecasts", "drift_report"]
QUIET_AFTER = 45.0  # s without runs after the change: longer than the slowest sensor interval (30 s) + a tick


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))


def _prepare(home: Path, url: str) -> Path:
    """Cold run into `home`, one settled `dagster dev` start, then a copy of that state."""
    cold_setup(home, url)
    with dagster_dev(home, url) as dev, _instance(home) as instance:
        print(f"  setup: dagster dev settled after {settle(dev, instance, busy):.0f} s")
    return save_home(home)


def live(repeat: int) -> dict[str, list[float]]:
    """Publish the quarter-closing KONK25 month; time until fresh forecasts and drift_report."""
    out: dict[str, list[float]] = {"live": [], "live_repeated": [], "worker_start": []}
    tmp = Path(tempfile.mkdtemp(prefix="sector-forecast-speed-live-"))
    try:
        month = snapshot_without_last_quarter_month(tmp / "snapshot")
        print(f"  new month: KONK25 {month} (closes a quarter: panel, features, fits and forecasts all move)")
        with fresh_home() as home:
            with running_statbank_server(tmp / "snapshot", tmp) as server:
                prepared = _prepare(home, server.url)
            for i in range(repeat):
                restore_home(home, prepared)
                # A new server per repetition: `publish` changes its state in memory only.
                with running_statbank_server(tmp / "snapshot", tmp) as server, dagster_dev(home, server.url) as dev, \
                        _instance(home) as instance:  # fmt: skip
                    settle(dev, instance, busy)
                    since = time.time()
                    server.publish("KONK25")
                    first = wait_for_assets(instance, LIVE_ASSETS, since, timeout=1200)
                    done = max(first[a] for a in LIVE_ASSETS)
                    wait_idle(instance, QUIET_AFTER, timeout=900)
                    hops = run_hops(instance, since, dev.sensors())
                    repeated = repeated_partitions(instance, since)
                print(f"\n  live run {i + 1}: fresh " + ", ".join(f"{a} {first[a]:.1f} s" for a in LIVE_ASSETS)
                      + f" after publication; {len(hops)} runs")  # fmt: skip
                print_hops(hops, since)
                print_repeated(repeated)
                out["live"].append(done)
                out["live_repeated"].append(len(repeated))
                if (worker := median_worker_start(hops)) is not None:
                    out["worker_start"].append(worker)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on UnauthorizedError { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill {
  status } } }"""


def _downstream_of_panel() -> list[str]:
    """quarterly_panel and everything below it, from the code location's own definitions."""
    from sector_forecast.defs.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.assets("quarterly_panel").downstream().resolve(graph)
    return sorted(k.to_user_string() for k in keys)


def _last_two_quarters(url: str) -> list[str]:
    from sector_forecast.defs.partitions import quarterly_partitions
    from sector_forecast.defs.pipeline import published_ranges
    from sector_forecast.statbank import StatBankClient

    last = published_ranges(StatBankClient(base_url=url))["panel_job"][1]
    keys = quarterly_partitions.get_partition_keys()
    return [keys[keys.index(last) - 1], last]


def backfill(repeat: int) -> dict[str, list[float]]:
    """The UI's backfill of two quarters of quarterly_panel and downstream, until the backfill is done."""
    out: dict[str, list[float]] = {"backfill": [], "backfill_repeated": []}
    assets = _downstream_of_panel()
    tmp = Path(tempfile.mkdtemp(prefix="sector-forecast-speed-bf-"))
    try:
        with running_statbank_server(tmp_path=tmp) as server, fresh_home() as home:
            quarters = _last_two_quarters(server.url)
            print(f"  backfill: quarters {quarters[0]}..{quarters[1]} of {len(assets)} assets: {', '.join(assets)}")
            prepared = _prepare(home, server.url)
            for i in range(repeat):
                restore_home(home, prepared)
                with dagster_dev(home, server.url) as dev, _instance(home) as instance:
                    settle(dev, instance, busy)
                    since = time.time()
                    params = {"assetSelection": [{"path": [a]} for a in assets], "partitionNames": quarters}
                    reply = dev.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
                    if reply["__typename"] != "LaunchBackfillSuccess":
                        raise RuntimeError(f"launchPartitionBackfill: {reply}")
                    status = "REQUESTED"
                    while status in ("REQUESTED", "CANCELING", "FAILING") and time.time() - since < 1200:
                        time.sleep(1)
                        status = dev.graphql(STATUS, {"id": reply["backfillId"]})["partitionBackfillOrError"]["status"]
                    done = time.time() - since
                    wait_idle(instance, QUIET_AFTER, timeout=900)
                    hops = run_hops(instance, since, dev.sensors())
                    repeated = repeated_partitions(instance, since)
                    fresh = {a for _, a, _ in materialised_since(instance, since)}
                print(f"\n  backfill run {i + 1}: {status} after {done:.1f} s; {len(hops)} runs; assets not "
                      f"materialised: {sorted(set(assets) - fresh) or 'none'}")  # fmt: skip
                print_hops(hops, since)
                print_repeated(repeated)
                out["backfill"].append(done if status in ("COMPLETED", "COMPLETED_SUCCESS") else float("inf"))
                out["backfill_repeated"].append(len(repeated))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
