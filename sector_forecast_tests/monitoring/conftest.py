"""Fixtures for the monitoring tests: the graph as of August 2022, then a shifted 2022Q3 arrives.

Monitoring judges a forecast on a quarter the champion had not seen, so the champion must be trained before
that quarter. The scenario replays the past: a copy of the bundled snapshot cut after `CUT_PERIOD` is served by
the local StatBank server and the graph is materialised as of `BASE_TIME` (`partitions.pinned`: the code location's
"now" and Dagster's partition loading context, so the newest forecast origin is 2022Q2 — cheap). The test
then publishes 2022M07–M09 through the server's admin with bankruptcies multiplied by `SHIFT`, as a sudden
crisis would, and monitors 2022Q3 as of `SHIFT_TIME`. KONK4 is skipped (optional).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from sector_forecast.defs import partitions
from sector_forecast.domain.sectors import ACTIVE_ENTERPRISES, KONK25_TO_SECTOR
from sector_forecast.statbank.snapshot import read_provenance, read_snapshot, write_snapshot_files
from sector_forecast_tests.conftest import GraphEnv, make_graph_env
from sector_forecast_tests.statbank_server import SNAPSHOT, ServerHandle, running_statbank_server

CUT_PERIOD = "2022M06"
SHIFTED_MONTHS = ["2022M07", "2022M08", "2022M09"]
SHIFTED_QUARTER = "2022-07-01"
BASE_TIME = datetime(2022, 8, 15, tzinfo=UTC)
SHIFT_TIME = datetime(2022, 11, 15, tzinfo=UTC)
SHIFT = 4.0
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
BASE_STAGES: list[tuple[str, str | None, str | None]] = [
    ("konk25_job", "2016-07-01", "2022-06-01"),
    ("demo14_job", "2019", "2021"),
    ("panel_job", "2017-01-01", "2022-04-01"),
    ("fits_job", "2021-01-01", "2022-04-01"),
    ("evaluation_job", None, None),
    ("monitoring_job", "2021-01-01", "2022-04-01"),
]


def cut_snapshot(target: Path, last_period: str = CUT_PERIOD) -> Path:
    """A copy of the bundled snapshot whose KONK25 ends at ``last_period`` (as if DST had not yet published)."""
    tables = read_snapshot(SNAPSHOT)
    konk25 = tables["KONK25"]
    konk25.data = konk25.data[konk25.data["TID"] <= last_period].reset_index(drop=True)
    time_var = konk25.time_variable
    time_var["values"] = [v for v in time_var["values"] if v["id"] <= last_period]
    konk25.meta["latestPeriod"] = last_period
    write_snapshot_files(target, tables.values(), read_provenance(SNAPSHOT))
    return target


def shifted_cells(month: str, factor: float = SHIFT) -> list[dict]:
    """The bundled snapshot's real cells of ``month`` for the ten sectors, bankruptcies times ``factor``."""
    data = read_snapshot(SNAPSHOT)["KONK25"].data
    rows = data[(data["TID"] == month) & (data["VIRKTYP1"] == ACTIVE_ENTERPRISES)
                & data["BRANCHE25"].isin(list(KONK25_TO_SECTOR))]
    return [{"BRANCHE25": r.BRANCHE25, "VIRKTYP1": r.VIRKTYP1, "INDHOLD": int(round(float(r.INDHOLD) * factor))}
            for r in rows.itertuples()]


def run_stage(env: GraphEnv, job: str, start: str | None = None, end: str | None = None,
              run_config: dict | None = None) -> str:
    """One job in-process over a partition range (or unpartitioned); returns the run id, fails loudly."""
    tags = {RANGE_START: start, RANGE_END: end} if start else {}
    result = env.defs.resolve_job_def(job).execute_in_process(
        instance=env.instance, tags=tags, raise_on_error=False,
        run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    if not result.success:
        failures = [str(e.event_specific_data.error.message).splitlines()[0] for e in result.all_events
                    if e.is_failure and getattr(e.event_specific_data, "error", None)]
        raise AssertionError(f"{job} {start}..{end} failed: {failures}")
    return result.run_id


@dataclass
class ShiftScenario:
    env: GraphEnv
    server: ServerHandle

    def publish_shifted_quarter(self) -> None:
        for month in SHIFTED_MONTHS:
            self.server.publish("KONK25", month, values=shifted_cells(month))

    def monitor_new_quarter(self) -> None:
        """What the publication sensor + automation do for a new quarter, without a re-fit."""
        with partitions.pinned(SHIFT_TIME):
            run_stage(self.env, "konk25_job", "2022-07-01", "2022-09-01")
            run_stage(self.env, "panel_job", "2022-04-01", SHIFTED_QUARTER)
            run_stage(self.env, "monitoring_job", SHIFTED_QUARTER, SHIFTED_QUARTER)


@pytest.fixture(scope="module")
def shift_scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShiftScenario]:
    """The reduced base graph through 2026Q2 on a live local server (the shifted quarter not yet published)."""
    root = tmp_path_factory.mktemp("shift")
    snapshot = cut_snapshot(root / "snapshot")
    with running_statbank_server(snapshot, root) as server:
        env = make_graph_env(root / "graph", server.url)
        with partitions.pinned(BASE_TIME):
            for job, start, end in BASE_STAGES:
                run_stage(env, job, start, end)
        yield ShiftScenario(env, server)


def read_log(env: GraphEnv) -> pd.DataFrame:
    return pd.read_parquet(env.storage / "monitoring" / "prediction_log.parquet")
