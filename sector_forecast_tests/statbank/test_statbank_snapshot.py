"""The bundled snapshot: deterministic reconstruction, the real figures kept exactly, internal consistency,
and a pull from the local server reproducing it."""

from __future__ import annotations

import filecmp
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from snapshot_tools.build import reconstruct

from sector_forecast.cli.statbank import statbank
from sector_forecast.statbank import StatBankClient
from sector_forecast.statbank.pull import pull
from sector_forecast.statbank.server.tables import HIERARCHY
from sector_forecast.statbank.snapshot import read_provenance

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / "data" / "real"
FILES = ["tables.json", "provenance.csv"] + [
    f"{t}/{f}" for t in ("KONK4", "KONK25", "DEMO14") for f in ("tableinfo.json", "data.csv")
]


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> tuple[Path, Path]:
    a, b = tmp_path_factory.mktemp("a") / "statbank", tmp_path_factory.mktemp("b") / "statbank"
    reconstruct(REAL, a, seed=2026)
    reconstruct(REAL, b, seed=2026)
    return a, b


@pytest.fixture(scope="module")
def cells(snapshot_dir_module) -> dict[str, pd.DataFrame]:
    client = StatBankClient(snapshot_dir=snapshot_dir_module)
    out = {}
    for table in ("KONK4", "KONK25", "DEMO14"):
        info = client.tableinfo(table)
        out[table] = client.data(table, {v["id"]: ["*"] for v in info["variables"]})
    return out


@pytest.fixture(scope="module")
def snapshot_dir_module() -> Path:
    return REPO / "data" / "statbank"


def _real(name: str) -> pd.DataFrame:
    return pd.read_csv(
        REAL / name,
        dtype={
            "branche": str,
            "branchedb0710": str,
            "region": str,
            "period": str,
            "konk4_branche_db07": str,
            "year": str,
        },
    )


def _cell(frame: pd.DataFrame, **codes: str) -> float:
    mask = pd.Series(True, index=frame.index)
    for col, code in codes.items():
        mask &= frame[col] == code
    assert mask.sum() == 1, codes
    return float(frame.loc[mask, "INDHOLD"].iloc[0])


def test_same_seed_same_bytes_and_matches_bundled(rebuilt, snapshot_dir_module):
    a, b = rebuilt
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
        assert filecmp.cmp(a / name, snapshot_dir_module / name, shallow=False), (
            f"data/statbank/{name} is stale"
        )
    assert (a / "KONK4/data.csv").stat().st_size < 1_000_000


def test_konk4_sector1_samples_exact(cells):
    k4 = cells["KONK4"]
    for r in _real("konk4_k02_sector1_samples.csv").itertuples():
        if r.freq == "month":
            assert _cell(k4, BRANCHE="1", VIRKTYP1="K02", TID=r.period) == r.bankruptcies
        else:
            year, q = r.period[:4], int(r.period[-1])
            months = [f"{year}M{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
            got = sum(_cell(k4, BRANCHE="1", VIRKTYP1="K02", TID=m) for m in months)
            assert got == r.bankruptcies, r.period


def test_monthly_totals_equal_digitized(cells):
    total = _real("konk4_k02_sum_sectors1to10_monthly_digitized.csv").set_index("period").iloc[:, 0]
    for table, col, codes in (
        ("KONK4", "BRANCHE", [str(s) for s in range(1, 11)]),
        ("KONK25", "BRANCHE25", ["A", "BCDE", "F", "GHI", "JK", "L", "M", "NO", "PQR", "STUV"]),
    ):
        frame = cells[table]
        k02 = frame[(frame["VIRKTYP1"] == "K02") & frame[col].isin(codes) & (frame["TID"] <= "2025M12")]
        sums = k02.groupby("TID")["INDHOLD"].sum()
        assert (sums.reindex(total.index) == total).all(), table


def test_december_2025_both_classifications_exact(cells):
    for r in _real("konk4_vs_konk25_2025M12.csv").itertuples():
        assert (
            _cell(cells["KONK4"], BRANCHE=r.konk4_branche_db07, VIRKTYP1="K02", TID="2025M12")
            == r.konk4_active
        )
        assert (
            _cell(cells["KONK25"], BRANCHE25=r.konk25_branche25_db25, VIRKTYP1="K02", TID="2025M12")
            == r.konk25_active
        )


def test_demo14_real_cells(cells):
    demo = cells["DEMO14"]
    for r in _real("demo14_nye_by_sector_2019_2023.csv").itertuples():
        assert _cell(demo, REGION="000", BRANCHEDB0710=r.branchedb0710, MÆNGDE4="NYE", TID=r.year) == r.value
    for r in _real("demo14_dst_nyt49007_2021_2022.csv").itertuples():
        assert (
            _cell(demo, REGION="000", BRANCHEDB0710=r.branchedb0710, MÆNGDE4="NYE", TID=r.year)
            == r.new_firms_NYE
        )
        assert (
            _cell(demo, REGION="000", BRANCHEDB0710=r.branchedb0710, MÆNGDE4="AFU", TID=r.year)
            == r.fte_in_new_firms_AFU
        )


@pytest.mark.parametrize("table", ["KONK4", "KONK25", "DEMO14"])
def test_aggregates_are_sums_of_their_children(cells, table):
    frame = cells[table][~cells[table]["suppressed"]]
    columns = [c for c in frame.columns if c not in ("TID", "INDHOLD", "suppressed")]
    for col, agg, children in HIERARCHY[table]:
        others = [c for c in columns if c != col] + ["TID"]
        parent = frame[frame[col] == agg].set_index(others)["INDHOLD"]
        kids = cells[table][cells[table][col].isin(children)]
        summed = kids.groupby(others)["INDHOLD"].sum(min_count=len(children))
        both = pd.concat([parent, summed], axis=1, join="inner").dropna()
        assert len(both) > 0 and (both.iloc[:, 0] == both.iloc[:, 1]).all(), (table, agg)


def test_provenance_flags(snapshot_dir_module):
    rows = read_provenance(snapshot_dir_module)
    assert {r["status"] for r in rows} == {"real", "approximate", "synthetic"}
    assert {r["table"] for r in rows} == {"KONK4", "KONK25", "DEMO14"}


def test_pull_from_local_server_reproduces_snapshot(statbank_server, snapshot_dir_module, tmp_path):
    out = tmp_path / "pulled"
    client = StatBankClient(base_url=statbank_server.url, timeout=10)
    pull(out, client=client, today=date(2026, 10, 8))
    for name in FILES:  # provenance.csv too: the server states the reconstruction and the pull keeps it
        assert filecmp.cmp(out / name, snapshot_dir_module / name, shallow=False), name


def test_cli_status_and_publish(statbank_server, snapshot_dir_module):
    runner = CliRunner()
    result = runner.invoke(statbank, ["status", "--snapshot", str(snapshot_dir_module)])
    assert result.exit_code == 0, result.output
    assert "KONK25  updated=2026-10-07T08:00:00 latestPeriod=2026M09 active=True" in result.output
    result = runner.invoke(statbank, ["publish", "--url", statbank_server.url, "KONK25"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("KONK25: published 2026M10 (latestPeriod=2026M10 updated=2026-11-07T08:00:00")
    result = runner.invoke(statbank, ["status", "--url", statbank_server.url])
    assert "latestPeriod=2026M10" in result.output and statbank_server.url in result.output
