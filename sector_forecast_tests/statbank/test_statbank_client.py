"""The real client over real HTTP against the local server: round trips, selectors, suppression, admin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests

from sector_forecast.domain import sectors
from sector_forecast.statbank import StatBankApiError, StatBankClient

K25_A = {"BRANCHE25": ["A"], "VIRKTYP1": ["K02"]}


@pytest.fixture
def client(statbank_server) -> StatBankClient:
    return StatBankClient(base_url=statbank_server.url, timeout=5, retries=2, backoff=0.01)


def test_tables_and_meta(client):
    metas = client.tables(["KONK4", "KONK25", "DEMO14"])
    assert [m["id"] for m in metas] == ["KONK4", "KONK25", "DEMO14"]
    k4, k25, demo = metas
    assert (k4["active"], k4["latestPeriod"], k4["updated"]) == (False, "2025M12", "2026-01-07T08:00:00")
    assert (k25["active"], k25["firstPeriod"], k25["latestPeriod"]) == (True, "2009M01", "2026M09")
    assert (demo["firstPeriod"], demo["latestPeriod"], demo["updated"]) == (
        "2019",
        "2023",
        "2025-06-13T08:00:00",
    )
    assert client.table_meta("konk25")["id"] == "KONK25"
    assert not client.is_snapshot and client.source == client.base_url


def test_tableinfo_matches_sector_codes(client):
    info = client.tableinfo("DEMO14")
    ids = [v["id"] for v in info["variables"]]
    assert ids == ["REGION", "BRANCHEDB0710", "MÆNGDE4", "Tid"]
    assert [v["id"] for v in info["variables"][1]["values"]] == list(sectors.DEMO14_BRANCHE_CODES)
    k25 = client.tableinfo("KONK25")
    assert [v["id"] for v in k25["variables"][0]["values"]] == list(sectors.KONK25_BRANCHE25_CODES)
    assert k25["variables"][-1]["time"] is True and k25["suppressedDataValue"] == "0"


def test_data_round_trip_dtypes(client):
    df = client.data("KONK25", {"BRANCHE25": ["*"], "VIRKTYP1": ["K02"], "Tid": ["2025M12"]})
    assert list(df.columns) == ["BRANCHE25", "VIRKTYP1", "TID", "INDHOLD", "suppressed"]
    assert df["INDHOLD"].dtype == np.float64 and df["suppressed"].dtype == bool
    assert df["BRANCHE25"].tolist() == list(sectors.KONK25_BRANCHE25_CODES)
    got = dict(zip(df["BRANCHE25"], df["INDHOLD"], strict=True))
    assert (got["GHI"], got["G"], got["STUV"], got["G47"], got["M"]) == (60, 24, 12, 18, 5)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (["2023*"], [f"2023M{m:02d}" for m in range(1, 13)]),
        ([">=2025M11<=2026M02"], ["2025M11", "2025M12", "2026M01", "2026M02"]),
        (["(2)"], ["2026M08", "2026M09"]),
        (["*M12", "2009M01"], ["2009M01"] + [f"{y}M12" for y in range(2009, 2026)]),
    ],
)
def test_time_selectors(client, selector, expected):
    df = client.data("KONK25", {**K25_A, "tid": selector})
    assert df["TID"].tolist() == expected


def test_suppressed_cells_stay_nan_and_flagged(client):
    df = client.data("KONK25", {"BRANCHE25": ["I55"], "VIRKTYP1": ["*"], "Tid": ["2009M0*"]})
    sup = df[df["suppressed"]]
    assert set(sup["TID"]) == {"2009M02", "2009M05"} and len(sup) == 6
    assert sup["INDHOLD"].isna().all() and not df.loc[~df["suppressed"], "INDHOLD"].isna().any()


def test_publish_revise_close_visible(client, statbank_server):
    before = client.table_meta("KONK25")
    meta = statbank_server.publish("KONK25")
    assert meta["latestPeriod"] == "2026M10" and meta["updated"] > before["updated"]
    after = client.table_meta("KONK25")
    assert after["latestPeriod"] == "2026M10" and after["updated"] == meta["updated"]
    new = client.data("KONK25", {"BRANCHE25": ["*"], "VIRKTYP1": ["*"], "Tid": ["(1)"]})
    assert set(new["TID"]) == {"2026M10"} and len(new) == 17 * 3
    wide = new.pivot(index="BRANCHE25", columns="VIRKTYP1", values="INDHOLD")
    assert (wide["K01"] == wide["K02"] + wide["K03"]).all()
    assert wide.loc["GHI", "K02"] == wide.loc[["G", "H", "I"], "K02"].sum()
    statbank_server.reset()
    again = statbank_server.publish("KONK25")
    assert again["latestPeriod"] == "2026M10"
    pd.testing.assert_frame_equal(
        new, client.data("KONK25", {"BRANCHE25": ["*"], "VIRKTYP1": ["*"], "Tid": ["(1)"]})
    )

    statbank_server.revise("KONK25", {"BRANCHE25": "A", "VIRKTYP1": "K02", "Tid": "2026M01"}, "..")
    cell = client.data("KONK25", {**K25_A, "Tid": ["2026M01"]})
    assert bool(cell["suppressed"].iloc[0]) and np.isnan(cell["INDHOLD"].iloc[0])
    statbank_server.revise("KONK25", {"BRANCHE25": "A", "VIRKTYP1": "K02", "Tid": "2026M01"}, 42)
    assert client.data("KONK25", {**K25_A, "Tid": ["2026M01"]})["INDHOLD"].iloc[0] == 42.0

    closed = statbank_server.close("KONK25", successor="KONK26")
    assert closed["active"] is False and client.table_meta("KONK25")["active"] is False
    assert len(client.data("KONK25", {**K25_A, "Tid": ["(1)"]})) == 1  # a closed table still answers


def test_publish_given_values(client, statbank_server):
    statbank_server.publish("KONK25", values=[{"BRANCHE25": "A", "VIRKTYP1": "K02", "INDHOLD": 99}])
    assert client.data("KONK25", {**K25_A, "Tid": ["2026M10"]})["INDHOLD"].iloc[0] == 99.0


def test_snapshot_mode_gives_the_same_frame(client, snapshot_dir):
    local = StatBankClient(snapshot_dir=snapshot_dir)
    assert local.is_snapshot and local.source == f"snapshot:{snapshot_dir.resolve()}"
    query = {"REGION": ["*"], "BRANCHEDB0710": ["*"], "MÆNGDE4": ["NYE", "AFU"], "Tid": ["*"]}
    pd.testing.assert_frame_equal(local.data("DEMO14", query), client.data("DEMO14", query))
    assert local.tables(["KONK4"]) == client.tables(["KONK4"])
    assert local.tableinfo("KONK25") == client.tableinfo("KONK25")


def test_from_env(monkeypatch, statbank_server, snapshot_dir):
    monkeypatch.setenv("SECTOR_FORECAST_STATBANK_URL", statbank_server.url)
    assert StatBankClient.from_env().source == statbank_server.url
    monkeypatch.delenv("SECTOR_FORECAST_STATBANK_URL")
    monkeypatch.setenv("SECTOR_FORECAST_SNAPSHOT_DIR", str(snapshot_dir))
    assert StatBankClient.from_env().is_snapshot


def test_get_query_form_and_csv(statbank_server):
    url = f"{statbank_server.url}/data/KONK4/BULK?BRANCHE=1&VIRKTYP1=K02&Tid=2009M0*&valuePresentation=Code"
    reply = requests.get(url, timeout=10)
    lines = reply.text.splitlines()
    assert lines[0] == "BRANCHE;VIRKTYP1;TID;INDHOLD" and lines[1] == "1;K02;2009M01;2"
    assert not reply.content.startswith(b"\xef\xbb\xbf")
    csv = requests.get(f"{statbank_server.url}/data/KONK4/CSV?BRANCHE=1&Tid=(1)", timeout=10).content
    assert csv.startswith(b"\xef\xbb\xbfBRANCHE;TID;INDHOLD\n1;2025M12;")  # VIRKTYP1 eliminated to K01
    info = requests.get(f"{statbank_server.url}/tableinfo/DEMO14?lang=en&format=JSON", timeout=10).json()
    assert info["id"] == "DEMO14"


def test_streaming_time_sort_is_refused(statbank_server):
    body = {
        "table": "KONK25",
        "format": "BULK",
        "timeOrder": "Descending",
        "variables": [{"code": c, "values": ["*"]} for c in ("BRANCHE25", "VIRKTYP1", "Tid")],
    }
    reply = requests.post(f"{statbank_server.url}/data", json=body, timeout=10)
    assert reply.status_code == 400 and reply.json()["errorTypeCode"] == "EXTRACT-STREAMINGTIMESORT"


def test_csv_format_through_client(client):
    df = client.data("KONK25", {**K25_A, "Tid": ["(3)"]}, format="CSV")
    assert df["TID"].tolist() == ["2026M07", "2026M08", "2026M09"]
    with pytest.raises(StatBankApiError):
        client.data("KONK25", {**K25_A, "Tid": ["(3)"]}, format="PX")
