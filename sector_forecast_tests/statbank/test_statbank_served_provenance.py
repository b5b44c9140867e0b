"""Provenance follows the data, not the URL (issue 19.7): a local server serving the reconstructed snapshot
states it and is labelled with the snapshot's shares; a source that states nothing (DST's API) is real."""

from __future__ import annotations

from datetime import date

import pytest

from sector_forecast.defs.resources import StatBankResource
from sector_forecast.statbank import StatBankClient
from sector_forecast.statbank import provenance as P
from sector_forecast.statbank.pull import pull
from sector_forecast.statbank.snapshot import read_provenance
from sector_forecast_tests.statbank_faults import FaultProxy
from sector_forecast_tests.statbank_server import SNAPSHOT

TABLES = ["KONK4", "KONK25", "DEMO14"]
REAL_GHI_DEC = {"BRANCHE25": "GHI", "VIRKTYP1": "K02", "Tid": "2025M12"}  # a real cell (provenance.csv row 5)


@pytest.fixture
def dst(statbank_server):
    """The same server seen as DST's API shows itself: no provenance statement, no provenance endpoint."""
    with FaultProxy(statbank_server.url, as_dst=True) as proxy:
        yield proxy


def test_the_server_states_the_reconstruction_and_serves_the_snapshots_provenance(statbank_server):
    client = StatBankClient(base_url=statbank_server.url)
    for table in TABLES:
        assert client.tableinfo(table)["footnote"].endswith(P.SERVED_NOTE)
    assert client.provenance_rows(TABLES) == read_provenance(SNAPSHOT)
    assert client.provenance_rows(["DEMO14"]) == [r for r in read_provenance(SNAPSHOT) if r["table"] == "DEMO14"]


@pytest.mark.parametrize("selection", ["model", "all"])
def test_served_shares_equal_the_snapshots(statbank_server, selection):
    served = StatBankClient(base_url=statbank_server.url).provenance_shares(TABLES, selection)
    assert served == P.provenance_shares(SNAPSHOT, TABLES, selection)


def test_the_resource_on_the_servers_url_is_labelled_like_the_snapshot(statbank_server):
    on_url, bundled = StatBankResource(base_url=statbank_server.url), StatBankResource()
    assert on_url.provenance_shares() == bundled.provenance_shares()
    assert on_url.provenance_shares()["KONK25"]["real"] == pytest.approx(6 / 2130)  # six real Dec-2025 cells
    tags = on_url.provenance_tags()
    assert tags == {**bundled.provenance_tags(), "data.url": statbank_server.url}
    assert tags["data.source"] == "reconstructed snapshot (99.7% of KONK25 cells synthetic)"
    assert on_url.data_label().startswith(f"RECONSTRUCTED data served by {statbank_server.url}:")


def test_published_and_revised_cells_are_synthetic_on_the_server(statbank_server):
    statbank_server.publish("KONK25")  # 2026M10, from the seeded generator
    statbank_server.revise("KONK25", REAL_GHI_DEC, 1)
    rows = StatBankClient(base_url=statbank_server.url).provenance_rows(["KONK25"])
    assert rows[-2:] == [
        {"table": "KONK25", "selection": "all cells", "periods": "2026M10", "status": "synthetic",
         "method": "published on the local server by its seeded generator",
         "source": "local server (`sector-forecast statbank serve`)"},
        {"table": "KONK25", "selection": "BRANCHE25=GHI;VIRKTYP1=K02", "periods": "2025M12", "status": "synthetic",
         "method": "revised on the local server", "source": "local server (`sector-forecast statbank serve`)"},
    ]
    # model cells: 10 sectors x 213 months before, 214 after the publish; the revised GHI cell is no longer real
    shares = StatBankResource(base_url=statbank_server.url).provenance_shares()["KONK25"]
    assert shares == {"real": 5 / 2140, "approximate": 0.0, "synthetic": 2135 / 2140}


def test_a_pull_carries_what_the_server_states(statbank_server, tmp_path):
    statbank_server.publish("KONK25")
    pull(tmp_path / "pulled", client=StatBankClient(base_url=statbank_server.url), today=date(2026, 11, 8))
    pulled = read_provenance(tmp_path / "pulled")
    assert pulled[:-1] == read_provenance(SNAPSHOT) and pulled[-1]["periods"] == "2026M10"
    assert P.provenance_shares(tmp_path / "pulled", ["KONK25"]) == StatBankClient(
        base_url=statbank_server.url).provenance_shares(["KONK25"])


def test_a_source_that_states_no_provenance_is_real(dst, tmp_path):
    # The proxy stands in for DST's own API (no provenance statement): not a label the served data contradict.
    client = StatBankClient(base_url=dst.url)
    assert P.SERVED_NOTE not in client.tableinfo("KONK25")["footnote"] and client.provenance_rows(TABLES) is None
    assert client.provenance_shares(TABLES) == {t: P.ALL_REAL for t in TABLES}
    resource = StatBankResource(base_url=dst.url)
    assert resource.provenance_tags()["data.source"] == "statbank-api"
    assert resource.data_label() == f"StatBank data from {dst.url}"
    pull(tmp_path / "pulled", client=client, today=date(2026, 10, 8))
    rows = read_provenance(tmp_path / "pulled")
    assert [(r["table"], r["selection"], r["status"]) for r in rows] == [(t, "all cells", "real") for t in TABLES]
    assert rows[1]["periods"] == "2009M01-2026M09" and rows[1]["source"] == f"{dst.url} (2026-10-08)"
    assert P.provenance_shares(tmp_path / "pulled", selection="all") == {t: P.ALL_REAL for t in TABLES}
