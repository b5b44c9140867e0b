"""`sector-forecast evaluate`'s evidence on the materialised graph: the figures issue 12 asks for."""

from __future__ import annotations

import json

import pytest

from sector_forecast.defs.resources import StatBankResource
from sector_forecast.domain.forecasters import BASELINES, CHALLENGERS
from sector_forecast.reports.evaluate import collect, render
from sector_forecast_tests.conftest import GraphEnv


@pytest.fixture(scope="module")
def evidence(materialised_graph: GraphEnv) -> dict:
    shares = materialised_graph.defs.resources["statbank"].provenance_shares()
    return collect(materialised_graph.storage, shares)


def test_the_json_has_every_documented_key_and_is_json(evidence: dict) -> None:
    assert {"origins", "first_origin", "last_origin", "models", "per_sector_coverage80", "champion", "drift",
            "data"} <= set(evidence)
    for targets in evidence["models"].values():
        for metrics in targets.values():
            assert set(metrics) == {"mae", "mase", "coverage80", "coverage95", "interval_score"}
    assert {"model", "baseline", "pvalue", "pvalue_holm", "promoted", "baselines", "challengers"} <= set(
        evidence["champion"])
    assert set(evidence["champion"]["baselines"]) == set(BASELINES)
    for test in evidence["champion"]["challengers"].values():
        assert {"mase", "pvalue", "pvalue_holm"} <= set(test)
    assert {"quarters", "alarms"} <= set(evidence["drift"])
    # Issue 19's additions: the score's quarter-of-year test, the monitors on simulated null panels (per
    # monitor) and the detection grid (factor → share detected within two quarters, also for all sectors).
    assert 0 <= evidence["score_season_pvalue"] <= 1
    simulated = evidence["drift"]["false_alarm_rate_simulated"]
    assert set(simulated) == {"data_drift", "common_level", "performance_degradation"}
    for monitor in simulated.values():
        assert {"rate", "quarters", "panels"} <= set(monitor) and monitor["panels"] >= 200
        assert 0 <= monitor["rate"] <= 0.10
    detection = evidence["drift"]["detection"]
    assert {"1.5", "2", "3", "all_sectors", "scenarios"} <= set(detection) and detection["scenarios"] > 0
    for shares in (detection, detection["all_sectors"]):
        assert all(0 <= shares[f] <= 1 for f in ("1.5", "2", "3"))
    json.dumps(evidence, allow_nan=False)  # strict JSON: NaN became null


def test_the_backtest_is_long_and_calibrated(evidence: dict) -> None:
    # 2012Q1..2026Q2: every origin from the first with three years of training rows to the last graded one.
    assert evidence["origins"] >= 55
    assert (evidence["first_origin"], evidence["last_origin"]) == ("2012Q1", "2026Q2")
    champion = evidence["models"][evidence["champion"]["model"]]["bankruptcies"]
    assert abs(champion["coverage80"] - 0.80) <= 0.05
    assert all(abs(c - 0.80) <= 0.10 for c in evidence["per_sector_coverage80"].values())
    assert len(evidence["per_sector_coverage80"]) == 10


def test_the_gate_records_its_evidence(evidence: dict) -> None:
    gate = evidence["champion"]
    assert gate["pvalue"] is not None and 0 <= gate["pvalue"] <= 1
    # The best baseline: the lowest MASE of the four, whatever the challengers did.
    mase = {m: evidence["models"][m]["bankruptcies"]["mase"] for m in BASELINES}
    assert gate["baseline"] == min(mase, key=mase.get)
    assert set(gate["challengers"]) == set(CHALLENGERS)
    if gate["promoted"]:
        assert gate["pvalue_holm"] < 0.10 and gate["pvalue_holm"] >= gate["pvalue"]
        baseline_mase = evidence["models"][gate["baseline"]]["bankruptcies"]["mase"]
        assert evidence["models"][gate["model"]]["bankruptcies"]["mase"] < baseline_mase
    else:
        assert gate["model"] == gate["baseline"]


def test_monitors_are_quiet_on_the_bundled_data_and_provenance_is_numbers(evidence: dict) -> None:
    drift = evidence["drift"]
    assert drift["quarters"] >= 55
    assert all(r["rate"] is not None and r["rate"] <= 0.10 for r in drift["false_alarm_rate"].values())
    data = evidence["data"]
    assert sum(data.values()) == pytest.approx(1.0)
    # this graph read a local server serving the reconstructed snapshot: its cells are the snapshot's, not real
    assert data == StatBankResource().provenance_shares()["KONK25"]
    assert data["real"] == pytest.approx(6 / 2130)  # six real Dec-2025 cells of 10 sectors x 213 months


def test_the_bundled_snapshot_says_how_synthetic_it_is() -> None:
    shares = StatBankResource().provenance_shares()  # no URL: the bundled snapshot
    assert shares["KONK25"]["synthetic"] > 0.9 and sum(shares["KONK25"].values()) == pytest.approx(1.0)
    assert StatBankResource().provenance_tags()["data.source"].startswith("reconstructed snapshot")


def test_the_text_report_names_each_figure(evidence: dict) -> None:
    text = render(evidence)
    assert f"{evidence['origins']} graded origins" in text
    assert "promotion gate" in text and "false-alarm rate" in text and "synthetic" in text


def test_every_horizon_has_its_metrics_coverage_and_gate_and_horizon_one_is_the_top_level(evidence: dict) -> None:
    by_h = evidence["by_horizon"]
    assert list(by_h) == ["1", "2", "3", "4"]
    for h, e in by_h.items():
        assert set(e["models"]) == set(BASELINES) | set(CHALLENGERS)
        metrics = {"mae", "mase", "coverage80", "coverage95", "interval_score"}
        assert all(set(m) == metrics for m in e["models"].values())
        assert e["coverage"]["model"] == evidence["champion"]["model"]
        assert len(e["coverage"]["per_sector_coverage80"]) == 10
        assert e["gate"]["baseline"] in BASELINES and set(e["gate"]["challengers"]) == set(CHALLENGERS)
        # a horizon-h forecast from the last origin with a published target: 2026Q2 + 1 − h
        assert e["last_origin"] == {"1": "2026Q2", "2": "2026Q1", "3": "2025Q4", "4": "2025Q3"}[h]
    one = by_h["1"]
    assert one["models"] == {m: v["bankruptcies"] for m, v in evidence["models"].items()}
    assert one["coverage"]["per_sector_coverage80"] == evidence["per_sector_coverage80"]
    assert (one["gate"]["pvalue"], one["gate"]["winner"]) == (evidence["champion"]["pvalue"],
                                                               evidence["champion"]["model"])
    assert "== horizons 1–4" in render(evidence)
