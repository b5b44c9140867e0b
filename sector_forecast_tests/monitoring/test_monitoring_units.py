"""Fast tests of the monitoring building blocks: the prediction log, the contracts, which forecast is judged,
the retrain decision and the report rendering."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sector_forecast.contracts import validation as contracts
from sector_forecast.contracts.monitoring import BATCH_PREDICTIONS_SCHEMA, MONITOR_TABLE_SCHEMA
from sector_forecast.domain import drift
from sector_forecast.domain.periods import quarter_offset, quarter_range
from sector_forecast.reports import drift_pages, plots
from sector_forecast.storage.prediction_log import (
    LOG_COLUMNS,
    append_to_prediction_log,
    merge_prediction_log,
    origin_forecast,
    read_prediction_log,
)

SECTORS = np.arange(1, 11)


def log_rows(origin: str, version: str, at: str, shift: float = 0.0) -> pd.DataFrame:
    pred = 20.0 + shift + SECTORS
    return pd.DataFrame({
        "origin": origin, "sector": SECTORS, "quarter": quarter_offset(origin, 1), "horizon": 1, "prediction": pred,
        "lower80": pred - 5, "upper80": pred + 5, "lower95": pred - 8, "upper95": pred + 8,
        "calibration80": "sector", "calibration95": "pooled", "model": "glm", "model_origin": origin,
        "model_version": version, "predicted_at": at, "dagster_run_id": "run",
    })[LOG_COLUMNS]


def test_log_rerun_replaces_its_rows_and_new_versions_add_rows() -> None:
    log = merge_prediction_log(read_prediction_log(Path("/nonexistent")), log_rows("2022Q2", "1", "t1"))
    rerun = merge_prediction_log(log, log_rows("2022Q2", "1", "t2", shift=1.0))
    assert len(rerun) == 10 and set(rerun["predicted_at"]) == {"t2"}
    both = merge_prediction_log(rerun, log_rows("2022Q2", "2", "t3"))
    assert len(both) == 20 and sorted(both["model_version"].unique()) == ["1", "2"]


def test_concurrent_appends_keep_every_quarter(tmp_path: Path) -> None:
    path = tmp_path / "monitoring" / "prediction_log.parquet"
    origins = [f"20{y}Q{q}" for y in (21, 22) for q in (1, 2, 3, 4)]
    threads = [threading.Thread(target=append_to_prediction_log, args=(path, log_rows(o, "1", "t")))
               for o in origins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = read_prediction_log(path)
    assert sorted(log["origin"].unique()) == origins and len(log) == 80
    assert not list(path.parent.glob(".prediction_log.parquet.*"))  # no temporary files left behind


def test_batch_predictions_contract() -> None:
    good = log_rows("2022Q2", "1", "t")
    assert contracts.validate(BATCH_PREDICTIONS_SCHEMA, good) == []
    # +inf is an honest upper bound only where calibration had no residuals.
    uncalibrated = good.assign(upper95=math.inf, calibration95="none")
    assert contracts.validate(BATCH_PREDICTIONS_SCHEMA, uncalibrated) == []
    checks = {f["check"] for f in contracts.validate(BATCH_PREDICTIONS_SCHEMA, good.assign(upper95=math.inf))}
    assert "infinite_bound_only_uncalibrated" in checks
    crossed = good.assign(upper80=good["prediction"] - 1)
    assert "nested_intervals" in {f["check"] for f in contracts.validate(BATCH_PREDICTIONS_SCHEMA, crossed)}
    wrong_quarter = good.assign(quarter="2022Q4")  # origin 2022Q2 + horizon 1 is 2022Q3
    assert "forecast_of_origin_plus_horizon" in {f["check"] for f in contracts.validate(BATCH_PREDICTIONS_SCHEMA,
                                                                                          wrong_quarter)}
    # ... while 2022Q4 at horizon 2 is right, as a second horizon's ten rows beside the first's
    assert contracts.validate(BATCH_PREDICTIONS_SCHEMA, pd.concat([good, wrong_quarter.assign(horizon=2)])) == []
    nine = good[good["sector"] != 5]
    assert "ten_sectors_per_origin_and_horizon" in {
        f["check"] for f in contracts.validate(BATCH_PREDICTIONS_SCHEMA, nine)}
    lone = pd.concat([good, wrong_quarter.assign(horizon=2).iloc[:1]])  # horizon 2 with one sector of ten
    assert "ten_sectors_per_origin_and_horizon" in {
        f["check"] for f in contracts.validate(BATCH_PREDICTIONS_SCHEMA, lone)}


def counts_panel(factor_sector3: float = 1.0, last: str = "2018Q4") -> pd.DataFrame:
    """Ten sectors, 2009Q1..last, a deterministic wobble; sector 3 × ``factor_sector3`` in the last quarter."""
    rows = []
    for i, q in enumerate(quarter_range("2009Q1", last)):
        for s in SECTORS:
            y = round((20 + 10 * s) * (1 + 0.15 * math.sin(i * 1.7 + s)))
            rows.append({"sector": int(s), "quarter": q, "bankruptcies": y * (factor_sector3 if s == 3 and q == last
                                                                               else 1)})
    return pd.DataFrame(rows).astype({"bankruptcies": "Int64"})


def leaderboard_rows(model: str = "glm", origins: list[str] | None = None) -> pd.DataFrame:
    """A leaderboard's calibrated predictions of ``counts_panel()``: μ = actual ∓ 5 (alternating), intervals ±5/±8."""
    actual = counts_panel(last="2019Q4").set_index(["quarter", "sector"])["bankruptcies"].astype(float)
    rows = []
    for i, origin in enumerate(origins or quarter_range("2012Q1", "2017Q4")):
        target = quarter_offset(origin, 1)
        for s in SECTORS:
            y = float(actual[(target, s)])
            mu = y - 5.0 * (1 if (i + s) % 2 else -1)
            rows.append({"model": model, "sector": int(s), "origin": origin, "target_quarter": target,
                         "prediction": mu, "actual": y, "current": mu, "scale": 3.0, "lower80": mu - 5,
                         "upper80": mu + 5, "lower95": mu - 8, "upper95": mu + 8, "calibration80": "sector",
                         "calibration95": "sector"})
    return pd.DataFrame(rows)


def test_origin_forecast_is_the_champions_backtest_row() -> None:
    board = pd.concat([leaderboard_rows("glm"), leaderboard_rows("naive").assign(prediction=1.0)])
    rows = origin_forecast(board, "glm", "2015Q2")
    assert len(rows) == 10 and set(rows["quarter"]) == {"2015Q3"} and set(rows["model"]) == {"glm"}
    assert rows["prediction"].tolist() == board[(board["model"] == "glm") & (board["origin"] == "2015Q2")][
        "prediction"].tolist()
    assert origin_forecast(board, "glm", "2030Q1").empty


def test_judged_forecast_prefers_the_first_logged_version() -> None:
    board = leaderboard_rows()
    log = pd.concat([log_rows("2017Q2", "2", "2017-11-01", shift=3.0), log_rows("2017Q2", "1", "2017-08-01")])
    forecast, judged = drift_pages.judged_forecast(log, board, "2017Q3")
    assert (judged.source, judged.model_version, judged.origin) == ("prediction log", "1", "2017Q2")
    assert forecast["prediction"].tolist() == [20.0 + s for s in SECTORS]  # version 1's, not 2's (+3)
    forecast, judged = drift_pages.judged_forecast(log.iloc[0:0], board, "2017Q3")
    assert judged.source == "backtest" and len(forecast) == 10
    assert drift_pages.judged_forecast(log.iloc[0:0], board, "2012Q1")[1].source == "none"  # no origin 2011Q4


def test_retrain_only_for_an_alarm_after_the_champions_origin() -> None:
    champ = {"version": "3", "model": "glm", "origin": "2022Q2"}
    assert drift_pages.retrain_decision("2022Q3", True, champ)[0] is True
    flag, reason = drift_pages.retrain_decision("2022Q2", True, champ)
    assert flag is False and "was trained on" in reason  # a replayed alarm: refitting changes nothing
    assert drift_pages.retrain_decision("2022Q3", False, champ) == (False, "no alarm")
    assert drift_pages.retrain_decision("2022Q3", True, None)[0] is False


def report(factor: float = 1.0) -> drift_pages.DriftReport:
    board = leaderboard_rows(origins=quarter_range("2011Q1", "2018Q3"))
    champ = {"version": "1", "model": "glm", "origin": "2018Q3", "run_id": "r"}
    log = read_prediction_log(Path("/nonexistent"))
    return drift_pages.build_report("2018Q4", counts_panel(factor), log, board, champ)


def test_report_flags_a_tripled_sector_and_asks_to_retrain() -> None:
    quiet, loud = report(), report(factor=3.0)
    assert not quiet.alarm and not quiet.retrain and quiet.retrain_reason == "no alarm"
    assert loud.data_drift and loud.data.to_dict()["rejected"] == ["sector 3"]
    # 2018Q4 is after the champion's origin 2018Q3: an alarm there asks to retrain, with the reason.
    assert loud.retrain and "after champion v1's origin 2018Q3" in loud.retrain_reason
    # Judged: the leaderboard's forecast made at 2018Q3. Targets 2011Q2..2018Q3 are graded; with 8 residuals
    # for a scale the statistic exists from 2013Q2, so 22 earlier quarters ≥ the 19 a 5% rank test needs.
    assert loud.judged.source == "backtest" and loud.performance.n_reference == 22
    # Sector 3 missed by ~2× its count (|z| ≈ 20, the others |z| ≈ 1): largest of 23, p = 1/23.
    assert loud.degraded and loud.performance.p_value == pytest.approx(1 / 23)
    table = loud.sector_table()
    assert contracts.validate(MONITOR_TABLE_SCHEMA, table) == []
    assert table.loc[table["sector"] == 3, "drift_rejected"].item() and len(table) == 10


def test_monitor_table_contract_names_broken_rows() -> None:
    table = report().sector_table()
    broken = table.assign(p_value=table["p_value"].where(table["sector"] != 2, 1.5))
    assert [f["check"] for f in contracts.validate(MONITOR_TABLE_SCHEMA, broken)] == ["in_range(0.0, 1.0)"]
    flagged_untested = table.assign(drift_rejected=True, p_value=np.nan)
    checks = {f["check"] for f in contracts.validate(MONITOR_TABLE_SCHEMA, flagged_untested)}
    assert "rejected_only_if_tested" in checks


def test_sector_table_is_built_once_and_a_callers_change_does_not_reach_the_next() -> None:
    loud = report(factor=3.0)
    first = loud.sector_table()
    pd.testing.assert_frame_equal(first, loud._build_sector_table())  # the memo is what a fresh build gives
    first.loc[:, "p_value"] = 9.0  # e.g. a caller preparing its own view
    assert (loud.sector_table()["p_value"] <= 1).all()
    assert loud.to_dict()["per_sector"] == loud.sector_table().to_dict("records")


def test_report_json_is_strict_html_self_contained_and_summarisable(tmp_path: Path) -> None:
    loud = report(factor=3.0)
    body = json.loads(json.dumps(loud.to_dict(), allow_nan=False))
    assert body["flags"]["data_drift"] is True and body["flags"]["retrain"] is True
    assert body["levels"] == {"data_drift": 0.05, "common_level": 0.05, "performance_degradation": 0.05,
                              "nominal_false_alarm_rate": 0.15}
    assert len(body["per_sector"]) == 10 and body["judged_forecast"]["origin"] == "2018Q3"
    images = plots.drift_figures(loud)
    html = drift_pages.to_html(loud, images)
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/png;base64,") == 2
    assert "<link" not in html and "<script" not in html and "sector 3" in html
    markdown = drift_pages.summary_markdown(loud)
    assert "DATA DRIFT" in markdown and "nominal false-alarm rate 0.05" in markdown
    (tmp_path / "2018Q4.json").write_text(json.dumps(body))
    summary = drift.drift_summary(drift_pages.load_reports(tmp_path))
    assert summary["alarms"] == ["2018Q4"] and summary["false_alarm_rate_any"] == 1.0


@pytest.mark.parametrize("factor", [1.0, 3.0])
def test_sector_table_keeps_ten_sectors_when_a_count_is_suppressed(factor: float) -> None:
    counts = counts_panel(factor)
    counts.loc[(counts["sector"] == 7) & (counts["quarter"] == "2018Q4"), "bankruptcies"] = pd.NA
    board = leaderboard_rows(origins=quarter_range("2011Q1", "2018Q3"))
    rep = drift_pages.build_report("2018Q4", counts, read_prediction_log(Path("/nonexistent")), board, None)
    table = rep.sector_table()
    assert len(table) == 10 and contracts.validate(MONITOR_TABLE_SCHEMA, table) == []
    row = table.set_index("sector").loc[7]
    assert math.isnan(row["p_value"]) and not row["drift_rejected"] and math.isnan(row["residual"])
