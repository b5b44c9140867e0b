"""Provenance as numbers (issue 12): per-cell status and real/approximate/synthetic shares of a snapshot."""

from __future__ import annotations

import ast
import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sector_forecast.domain import sectors
from sector_forecast.statbank import StatBankClient
from sector_forecast.statbank import provenance as P
from sector_forecast.statbank.pull import pull
from sector_forecast.statbank.snapshot import TableState, write_snapshot_files
from sector_forecast_tests.statbank_server import SNAPSHOT

TABLES = ["KONK4", "KONK25", "DEMO14"]


def _status(table: str, **where: str | list[str]) -> pd.Series:
    cells = P.cell_provenance(SNAPSHOT, table)
    for col, val in where.items():
        cells = cells[cells[col].isin([val] if isinstance(val, str) else val)]
    assert len(cells) > 0, where
    return cells["status"]


@pytest.mark.parametrize("selection", ["all", "model"])
def test_bundled_shares_sum_to_one_and_konk25_is_mostly_synthetic(selection):
    shares = P.provenance_shares(SNAPSHOT, selection=selection)
    assert list(shares) == TABLES
    for table, s in shares.items():
        assert list(s) == list(P.STATUSES)
        assert sum(s.values()) == pytest.approx(1.0, abs=1e-12), table
        assert all(0.0 <= v <= 1.0 for v in s.values())
    assert shares["KONK25"]["synthetic"] > 0.99 and shares["KONK4"]["synthetic"] > 0.99
    assert shares["KONK25"]["approximate"] == 0.0


def test_bundled_counts_per_table():
    for table, n, real, approx in [
        ("KONK4", 12240, 19, 0),
        ("KONK25", 10863, 9, 0),
        ("DEMO14", 1440, 34, 34),
    ]:
        counts = P.cell_provenance(SNAPSHOT, table)["status"].value_counts()
        assert counts.sum() == n and counts.get("real", 0) == real and counts.get("approximate", 0) == approx
    model = P.provenance_shares(SNAPSHOT)
    assert model["KONK4"]["real"] == pytest.approx(16 / 2040)  # sector 1 2009M01-M10 + six Dec-2025 sectors
    assert model["KONK25"]["real"] == pytest.approx(6 / 2130)  # GHI, STUV, M, F, NO, BCDE in 2025M12
    assert model["DEMO14"] == {"real": 0.36, "approximate": 0.64, "synthetic": 0.0}


def test_konk4_sector1_exact_months_are_real_and_split_quarters_are_not():
    months = [f"2009M{m:02d}" for m in range(1, 11)]
    assert (_status("KONK4", BRANCHE="1", VIRKTYP1="K02", TID=months) == "real").all()
    # inside the exact quarter sums, but a seeded split of them: synthetic
    split = ["2009M11", "2009M12", "2010M01", "2020M10", "2021M09"]
    assert (_status("KONK4", BRANCHE="1", VIRKTYP1="K02", TID=split) == "synthetic").all()
    assert (_status("KONK4", BRANCHE="1", VIRKTYP1=["K01", "K03"], TID=months) == "synthetic").all()


def test_cells_under_an_approximate_sum_are_synthetic():
    # "sum over sectors 1-10 equals the digitized total" does not make any one sector approximate
    assert (
        _status("KONK4", BRANCHE=list(P.MODEL_CELLS["KONK4"]["BRANCHE"]), VIRKTYP1="K02") != "approximate"
    ).all()
    assert (_status("KONK25", VIRKTYP1="K02") != "approximate").all()


def test_named_real_cells_beat_catch_all_rows():
    real25 = ["GHI", "G", "STUV", "G47", "M", "F", "NO", "H", "BCDE"]
    assert (_status("KONK25", BRANCHE25=real25, VIRKTYP1="K02", TID="2025M12") == "real").all()
    assert (
        _status("KONK25", BRANCHE25=["A", "G46", "I", "JK"], VIRKTYP1="K02", TID="2025M12") == "synthetic"
    ).all()
    assert (_status("KONK4", BRANCHE=["4", "G", "G03", "H"], VIRKTYP1="K02", TID="2025M12") == "real").all()


def test_suppressed_cells_are_flagged_and_synthetic():
    cells = P.cell_provenance(SNAPSHOT, "KONK25")
    sup = cells[cells["suppressed"]]
    assert set(sup["BRANCHE25"]) == {"I55"} and set(sup["TID"]) == {"2009M02", "2009M05"} and len(sup) == 6
    assert (sup["status"] == "synthetic").all() and (sup["provenance_row"] >= 0).all()


def test_demo14_nye_sectors_1_to_10_are_real_or_digitized():
    nye = dict(REGION="000", MÆNGDE4="NYE", BRANCHEDB0710=[str(s) for s in range(1, 11)])
    status = _status("DEMO14", **nye)
    assert len(status) == 50 and set(status) == {"real", "approximate"}
    assert (_status("DEMO14", **nye | {"BRANCHEDB0710": ["1", "2"]}) == "real").all()
    assert (_status("DEMO14", **nye | {"BRANCHEDB0710": ["3", "6"], "TID": ["2021", "2022"]}) == "real").all()
    assert (_status("DEMO14", **nye | {"BRANCHEDB0710": ["7", "10"]}) == "approximate").all()
    assert (
        _status("DEMO14", REGION="000", BRANCHEDB0710="11", MÆNGDE4="NYE", TID=["2021", "2022"])
        == "approximate"
    ).all()
    assert (
        _status("DEMO14", REGION="000", BRANCHEDB0710="TOT", MÆNGDE4=["NYE", "AFU"], TID="2021") == "real"
    ).all()
    assert (_status("DEMO14", REGION=["081", "085"]) == "synthetic").all()
    assert (_status("DEMO14", MÆNGDE4=["OPH", "OMS"]) == "synthetic").all()


def test_selection_mapping_and_errors():
    shares = P.provenance_shares(
        SNAPSHOT, ["KONK4"], {"KONK4": {"BRANCHE": ["1"], "TID": ["2009M01", "2009M02"]}}
    )
    assert shares == {"KONK4": {"real": 1 / 3, "approximate": 0.0, "synthetic": 2 / 3}}  # K01, K02, K03
    with pytest.raises(ValueError, match="no cells"):
        P.provenance_shares(SNAPSHOT, ["KONK4"], {"KONK4": {"BRANCHE": ["nope"]}})
    with pytest.raises(ValueError, match="selection"):
        P.provenance_shares(SNAPSHOT, ["KONK4"], "leafs")
    with pytest.raises(FileNotFoundError, match="KONK9"):
        P.cell_provenance(SNAPSHOT, "KONK9")


def test_model_cells_match_the_domain_sector_maps():
    assert set(P.MODEL_CELLS["KONK4"]["BRANCHE"]) == set(sectors.KONK4_TO_SECTOR)
    assert set(P.MODEL_CELLS["KONK25"]["BRANCHE25"]) == set(sectors.KONK25_TO_SECTOR)
    assert set(P.MODEL_CELLS["DEMO14"]["BRANCHEDB0710"]) == {str(s) for s in sectors.SECTOR_CODES}
    assert P.MODEL_CELLS["KONK25"]["VIRKTYP1"] == (sectors.ACTIVE_ENTERPRISES,)


def test_module_keeps_the_layering_rule():
    tree = ast.parse(Path(P.__file__).read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [
        m for m in names if m.split(".")[0] in {"dagster", "mlflow"} or m.startswith("sector_forecast.domain")
    ]


def test_summary_line():
    line = P.provenance_summary(P.provenance_shares(SNAPSHOT, ["KONK25", "DEMO14"]))
    assert (
        line
        == "KONK25 0.3% real, 0.0% approximate, 99.7% synthetic; DEMO14 36.0% real, 64.0% approximate, 0.0% synthetic"
    )


def _tiny(target: Path, status: str = "real") -> None:
    data = pd.DataFrame(
        {"BRANCHE25": ["A", "A", "GHI", "GHI"], "VIRKTYP1": ["K02"] * 4, "TID": ["2026M01", "2026M02"] * 2}
    ).assign(INDHOLD=["3", "..", "40", "41"])
    state = TableState(meta={"id": "KONK25"}, info={"id": "KONK25", "variables": []}, data=data)
    row = {
        "table": "KONK25",
        "selection": "all cells",
        "periods": "2026M01-2026M02",
        "status": status,
        "method": "downloaded with `sector-forecast statbank pull`",
        "source": "test",
    }
    write_snapshot_files(target, [state], [row])


def test_tiny_all_real_snapshot_and_cache_invalidation(tmp_path):
    _tiny(tmp_path)
    assert P.provenance_shares(tmp_path, selection="all") == {
        "KONK25": {"real": 1.0, "approximate": 0.0, "synthetic": 0.0}
    }
    assert (
        P.provenance_summary(P.provenance_shares(tmp_path))
        == "KONK25 100.0% real, 0.0% approximate, 0.0% synthetic"
    )
    cells = P.cell_provenance(tmp_path, "KONK25")
    assert list(cells.columns) == ["BRANCHE25", "VIRKTYP1", "TID", "status", "provenance_row", "suppressed"]
    assert cells["suppressed"].tolist() == [False, True, False, False]
    cells["status"] = "mutated"  # a caller's copy, not the cache
    assert (P.cell_provenance(tmp_path, "KONK25")["status"] == "real").all()
    _tiny(tmp_path, status="synthetic")
    later = (tmp_path / "provenance.csv").stat().st_mtime_ns + 10**9
    os.utime(tmp_path / "provenance.csv", ns=(later, later))
    assert P.provenance_shares(tmp_path)["KONK25"]["synthetic"] == 1.0


def test_a_snapshot_pulled_from_the_snapshot_keeps_its_provenance(tmp_path):
    # the in-process transport serves the reconstruction and says so: the pull carries its provenance
    pull(tmp_path / "pulled", client=StatBankClient(snapshot_dir=SNAPSHOT), today=date(2026, 10, 8))
    assert (tmp_path / "pulled" / "provenance.csv").read_bytes() == (SNAPSHOT / "provenance.csv").read_bytes()
    for selection in ("all", "model"):
        assert P.provenance_shares(tmp_path / "pulled", selection=selection) == P.provenance_shares(
            SNAPSHOT, selection=selection
        )
