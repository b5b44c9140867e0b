"""Every failure the client must name: unreachable, DST API errors, bad bodies, retries, time-outs."""

from __future__ import annotations

import socket

import pytest

from sector_forecast.statbank import (
    StatBankApiError,
    StatBankBadResponse,
    StatBankClient,
    StatBankUnreachable,
)

ALL_A = {"BRANCHE25": ["A"], "VIRKTYP1": ["K02"], "Tid": ["*"]}


@pytest.fixture
def client(statbank_server) -> StatBankClient:
    return StatBankClient(base_url=statbank_server.url, timeout=5, retries=2, backoff=0.01)


def _one_line(exc: Exception, table: str) -> str:
    text = str(exc)
    assert "\n" not in text and text.startswith(f"{table}: "), text
    assert exc.table == table
    return text


def test_unreachable_closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = StatBankClient(base_url=f"http://127.0.0.1:{port}/v1", timeout=1, retries=1, backoff=0.01)
    with pytest.raises(StatBankUnreachable) as err:
        client.data("KONK25", ALL_A)
    assert "after 2 attempts" in _one_line(err.value, "KONK25")


@pytest.mark.parametrize(
    ("table", "variables", "code"),
    [
        ("NOPE1", {"X": ["*"]}, "EXTRACT-NOTFOUND"),
        ("KONK25", {"BRANCHE25": ["ZZZ"], "VIRKTYP1": ["K02"], "Tid": ["*"]}, "EXTRACT-NOTFOUND"),
        ("KONK25", {"BRANCHE25": ["A"], "Tid": ["*"]}, "EXTRACT-NOTALLOWED"),
    ],
)
def test_api_errors(client, table, variables, code):
    with pytest.raises(StatBankApiError) as err:
        client.data(table, variables)
    assert err.value.code == code and err.value.status == 400
    assert code in _one_line(err.value, table)


def test_request_limit_only_for_non_streaming(client, statbank_server):
    statbank_server.limit(100)
    query = {"BRANCHE25": ["*"], "VIRKTYP1": ["*"], "Tid": ["2025*"]}
    with pytest.raises(StatBankApiError) as err:
        client.data("KONK25", query, format="CSV")
    assert err.value.code == "REQUEST-LIMIT"
    assert len(client.data("KONK25", query)) == 17 * 3 * 12  # BULK streams without the cap


def test_unknown_table_in_tables(client):
    with pytest.raises(StatBankApiError) as err:
        client.table_meta("NOPE1")
    assert err.value.code == "EXTRACT-NOTFOUND"


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("html", "HTML page instead of BULK data (HTTP 200, text/html)"),
        ("truncated", "truncated"),
        ("garbage", "not UTF-8"),
        ("nocolumn", "lacks the expected column"),
    ],
)
def test_bad_bodies(client, statbank_server, mode, words):
    statbank_server.fault(mode)
    with pytest.raises(StatBankBadResponse) as err:
        client.data("KONK25", ALL_A)
    assert words in _one_line(err.value, "KONK25")


def test_html_instead_of_json(client, statbank_server):
    statbank_server.fault("html")
    with pytest.raises(StatBankBadResponse, match="HTML page instead of JSON"):
        client.tableinfo("KONK25")


def test_unparseable_number_names_line_and_value(client, statbank_server):
    statbank_server.revise("KONK25", {"BRANCHE25": "A", "VIRKTYP1": "K02", "Tid": "2009M03"}, "12,5x")
    with pytest.raises(StatBankBadResponse) as err:
        client.data("KONK25", ALL_A)
    assert "'12,5x'" in _one_line(err.value, "KONK25") and "line 4" in str(err.value)


@pytest.mark.parametrize("mode", ["429", "500", "down"])
def test_transient_faults_are_retried(client, statbank_server, mode):
    statbank_server.fault(mode, count=2)
    assert len(client.data("KONK25", ALL_A)) == 213


def test_persistent_500_fails_after_retries(client, statbank_server):
    statbank_server.fault("500", count=10)
    with pytest.raises(StatBankApiError) as err:
        client.data("KONK25", ALL_A)
    assert err.value.status == 500 and "after 3 attempts" in _one_line(err.value, "KONK25")


def test_slow_answer_times_out(statbank_server):
    statbank_server.fault("slow", seconds=2.0)
    client = StatBankClient(base_url=statbank_server.url, timeout=0.4, retries=0)
    with pytest.raises(StatBankUnreachable, match="Timeout"):
        client.data("KONK25", ALL_A)
    statbank_server.fault("slow", seconds=2.0)
    retrying = StatBankClient(base_url=statbank_server.url, timeout=0.4, retries=1, backoff=0.01)
    assert len(retrying.data("KONK25", ALL_A)) == 213
