"""Raw assets over real HTTP from a local StatBank server: partitions, metadata, contracts, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from sector_forecast.storage.values import read_stored
from sector_forecast_tests.conftest import GraphEnv, make_graph_env
from sector_forecast_tests.statbank_server import SNAPSHOT, ServerHandle, running_statbank_server

MONTH = "2024-03-01"
CHECK_EVENT = dg.DagsterEventType.ASSET_CHECK_EVALUATION


def _run(env: GraphEnv, job: str, partition: str | None = None, start: str | None = None, end: str | None = None):
    tags = {}
    if start:
        tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    return env.defs.resolve_job_def(job).execute_in_process(
        instance=env.instance, partition_key=partition, tags=tags, raise_on_error=False
    )


def _failure_messages(result) -> str:
    messages = []
    for event in result.all_events:
        data = event.event_specific_data
        error = getattr(data, "error", None)
        if error is not None:
            messages.append(error.message)
        evaluation = event.asset_check_evaluation_data if event.event_type == CHECK_EVENT else None
        if evaluation is not None and not evaluation.passed:
            messages.append(evaluation.description or "")
    return "\n".join(messages)


def _check_evaluations(result) -> dict[str, object]:
    return {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:{e.asset_check_evaluation_data.check_name}":
        e.asset_check_evaluation_data
        for e in result.all_events if e.event_type == CHECK_EVENT
    }


def test_konk25_month_materialises_with_contract_and_metadata(env: GraphEnv) -> None:
    result = _run(env, "konk25_job", MONTH)
    assert result.success
    stored = read_stored(env.storage, "konk25_raw", MONTH)
    assert set(stored["period"]) == {"2024M03"}
    assert set(stored["virktyp1"]) == {"K02"}
    assert stored["bankruptcies"].dtype == "Int64"
    assert not stored.duplicated(["branche25", "virktyp1", "period"]).any()
    checks = _check_evaluations(result)
    assert checks["konk25_raw:contract"].passed
    [materialization] = result.asset_materializations_for_node("konk25_raw")
    meta = materialization.metadata
    assert meta["dagster/row_count"].value == len(stored)
    assert meta["source"].value == env.url
    # the local server serves the reconstructed snapshot and says so: labelled like the snapshot, not "real"
    assert meta["provenance"].value.startswith("**Bundled snapshot (approximate, real, synthetic)**")
    assert meta["modelled_cells_real_share"].value == round(6 / 2130, 4)  # six real Dec-2025 cells, 10 x 213
    assert meta["table_latest_period"].value == "2026M09"


def test_range_run_writes_every_month_in_one_run(env: GraphEnv) -> None:
    result = _run(env, "konk4_job", start="2009-01-01", end="2009-12-01")
    assert result.success
    months = sorted(p.stem for p in (env.storage / "konk4_raw").glob("*.parquet"))
    assert months == [f"2009-{m:02d}-01" for m in range(1, 13)]
    sector1 = pd.concat(read_stored(env.storage, "konk4_raw", k) for k in months[:10])
    exact = sector1[sector1["branche"] == "1"].sort_values("period")["bankruptcies"].tolist()
    assert exact == [2, 6, 6, 5, 3, 5, 3, 4, 4, 7]  # DST's published KONK4 figures, kept exactly


def test_suppressed_cells_stay_missing(env: GraphEnv) -> None:
    result = _run(env, "konk25_job", "2009-02-01")
    assert result.success
    stored = read_stored(env.storage, "konk25_raw", "2009-02-01")
    i55 = stored[stored["branche25"] == "I55"].iloc[0]
    assert bool(i55["suppressed"]) and pd.isna(i55["bankruptcies"])


def test_unpublished_month_is_not_materialised(env: GraphEnv) -> None:
    result = _run(env, "konk25_job", "2026-10-01")
    assert not result.success
    assert "2026M10 not published yet" in _failure_messages(result)
    assert not (env.storage / "konk25_raw" / "2026-10-01.parquet").exists()


def test_unpublished_demo14_year_is_not_materialised(env: GraphEnv) -> None:
    result = _run(env, "demo14_job", "2024")
    assert not result.success
    assert "DEMO14: 2024 not published yet" in _failure_messages(result)


def test_negative_count_fails_the_blocking_check_and_blocks_downstream(env: GraphEnv, server: ServerHandle) -> None:
    server.revise("KONK25", {"BRANCHE25": "F", "VIRKTYP1": "K02", "Tid": "2024M02"}, -5)
    for month in ("2024-01-01", "2024-02-01", "2024-03-01"):
        _run(env, "konk25_job", month)
    assert _run(env, "demo14_job", "2024").success is False  # not published: the panel nowcasts
    _run(env, "demo14_job", start="2019", end="2023")
    result = _run(env, "panel_job", "2024-01-01")
    assert not result.success
    text = _failure_messages(result)
    assert "quarterly_panel" in text and "konk25_raw partition 2024-02-01" in text
    assert not (env.storage / "quarterly_panel" / "2024-01-01.parquet").exists()


@pytest.mark.parametrize(
    ("kind", "edit", "expected"),
    [
        ("unknown code", lambda lines: lines + ["XYZ;K02;2024M03;4"], "isin"),
        ("duplicate key", lambda lines: lines + ["F;K02;2024M03;9"], "uniqueness"),
        ("negative count", lambda rows: [r.replace("F;K02;2024M03;", "F;K02;2024M03;-") for r in rows], "greater_than"),
    ],
)
def test_bad_rows_fail_the_contract_naming_the_rows(
    tmp_path: Path, kind: str, edit, expected: str
) -> None:
    snapshot = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, snapshot)
    info_path = snapshot / "KONK25" / "tableinfo.json"
    info = json.loads(info_path.read_text())
    info["variables"][0]["values"].append({"id": "XYZ", "text": "not a DB25 group"})  # DST knows it, we don't
    info_path.write_text(json.dumps(info))
    data = snapshot / "KONK25" / "data.csv"
    lines = data.read_text().rstrip("\n").split("\n")
    data.write_text("\n".join(edit(lines)) + "\n")
    with running_statbank_server(snapshot, tmp_path) as bad_server:
        env = make_graph_env(tmp_path / "graph", bad_server.url)
        result = _run(env, "konk25_job", MONTH)
    assert not result.success, kind
    evaluation = _check_evaluations(result)["konk25_raw:contract"]
    assert not evaluation.passed
    assert expected in evaluation.description and "2024M03" in evaluation.description
    assert evaluation.metadata["failures"].value >= 1


def test_missing_column_is_a_one_line_error_naming_table(env: GraphEnv, server: ServerHandle) -> None:
    server.fault("nocolumn", count=5)
    result = _run(env, "konk25_job", MONTH)
    assert not result.success
    text = _failure_messages(result)
    assert "KONK25" in text and "column" in text
    assert not (env.storage / "konk25_raw" / f"{MONTH}.parquet").exists()


def test_unreachable_server_fails_cleanly(tmp_path: Path) -> None:
    env = make_graph_env(tmp_path, "http://127.0.0.1:9/v1")
    result = _run(env, "konk25_job", MONTH)
    assert not result.success
    assert "KONK25" in _failure_messages(result)
    assert not (env.storage / "konk25_raw").exists()
