"""Fast tests of the monitoring building blocks: the prediction log, the realised error, the report rendering."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sector_forecast import monitoring_report as mr
from sector_forecast.assets.predictions import (
    LOG_COLUMNS,
    append_to_prediction_log,
    merge_prediction_log,
    read_prediction_log,
)
from sector_forecast.domain import drift


def log_rows(origin: str, version: str, at: str, shift: float = 0.0, model_origin: str | None = None) -> pd.DataFrame:
    quarter = f"{origin[:5]}{int(origin[5]) + 1}" if origin[5] != "4" else f"{int(origin[:4]) + 1}Q1"
    pred = 0.8 + shift + np.arange(10) / 100
    return pd.DataFrame({
        "origin": origin, "sector": np.arange(1, 11), "quarter": quarter, "prediction": pred,
        "lower": pred - 0.02, "upper": pred + 0.02, "model": "ridge", "model_origin": model_origin or origin,
        "model_version": version, "predicted_at": at, "dagster_run_id": "run",
    })[LOG_COLUMNS]


def test_log_rerun_replaces_its_rows_and_new_versions_add_rows() -> None:
    log = merge_prediction_log(read_prediction_log(Path("/nonexistent")), log_rows("2022Q2", "1", "t1"))
    rerun = merge_prediction_log(log, log_rows("2022Q2", "1", "t2", shift=0.01))
    assert len(rerun) == 10 and set(rerun["predicted_at"]) == {"t2"}
    both = merge_prediction_log(rerun, log_rows("2022Q2", "2", "t3"))
    assert len(both) == 20 and sorted(both["model_version"].unique()) == ["1", "2"]


def test_concurrent_appends_keep_every_quarter(tmp_path: Path) -> None:
    path = tmp_path / "monitoring" / "prediction_log.parquet"
    origins = [f"20{y}Q{q}" for y in (21, 22) for q in (1, 2, 3, 4)]
    threads = [threading.Thread(target=append_to_prediction_log, args=(path, log_rows(o, "1", "t"))) for o in origins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = read_prediction_log(path)
    assert sorted(log["origin"].unique()) == origins and len(log) == 80
    assert not list(path.parent.glob(".prediction_log.parquet.*"))  # no temporary files left behind


def test_realised_error_judges_the_first_out_of_sample_forecast() -> None:
    # v1 (origin 2022Q2) forecast 2022Q3 first; v2 (trained on 2022Q3, origin 2022Q3) re-scored it later.
    log = pd.concat([log_rows("2022Q2", "1", "2022-08-01"),
                     log_rows("2022Q2", "2", "2022-11-01", model_origin="2022Q3")], ignore_index=True)
    assert set(drift.served_forecast(log, "2022Q3")["model_version"]) == {"1"}
    actuals = pd.DataFrame({"sector": np.arange(1, 11), "score": 0.8 + np.arange(10) / 100 - 0.05})
    empty = log.iloc[0:0]
    out = drift.realised_error("2022Q3", actuals, log, empty, {"1": 0.01}, margin=0.2, current_version="1")
    assert out.source == "prediction log" and out.mae == pytest.approx(0.05) and out.ratio == pytest.approx(5.0)
    assert out.degraded and out.retrain and len(out.table) == 10
    replaced = drift.realised_error("2022Q3", actuals, log, empty, {"1": 0.01}, current_version="2")
    assert replaced.degraded and not replaced.retrain and "no longer the champion" in replaced.note
    ok = drift.realised_error("2022Q3", actuals, log, empty, {"1": 0.05}, current_version="1")
    assert not ok.degraded and not ok.retrain and "within" in ok.note


def test_replay_and_unpublished_quarters_never_ask_for_a_retrain() -> None:
    actuals = pd.DataFrame({"sector": np.arange(1, 11), "score": np.full(10, 0.5)})
    replay = pd.DataFrame({"sector": np.arange(1, 11), "prediction": np.full(10, 0.9), "origin": "2022Q2"})
    empty_log = log_rows("2022Q2", "1", "t").iloc[0:0]
    out = drift.realised_error("2022Q3", actuals, empty_log, replay, {"replay": 0.01}, current_version="1")
    assert out.source == "backtest replay" and out.degraded and not out.retrain
    unpublished = actuals.assign(score=np.nan)
    out = drift.realised_error("2022Q3", unpublished, empty_log, replay, {"replay": 0.01}, current_version="1")
    assert out.n == 0 and not out.degraded and "not published yet" in out.note
    none = drift.realised_error("2022Q3", actuals, empty_log, replay.iloc[0:0], {}, current_version=None)
    assert none.source == "none" and not none.retrain


def test_reference_rows_are_the_training_rows_before_the_window() -> None:
    quarters = [f"{y}Q{q}" for y in (2020, 2021, 2022) for q in (1, 2, 3, 4)]
    frame = pd.DataFrame({"quarter": quarters, "target": 1.0, "score": 1.0})
    frame.loc[frame["quarter"] == "2020Q2", "score"] = np.nan
    ref = drift.reference_rows(frame, ("2020Q1", "2022Q1"), before="2021Q3")
    assert ref["quarter"].tolist() == ["2020Q1", "2020Q3", "2020Q4", "2021Q1", "2021Q2"]
    assert drift.monitored_features(["sector", "score", "quarter_of_year", "births_nowcast"]) == ["score"]


def _report(shift: float) -> mr.DriftReport:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"score": rng.normal(0.9, 0.02, 200), "momentum": rng.normal(0, 0.01, 200)})
    cur = pd.DataFrame({"score": rng.normal(0.9 - shift, 0.02, 40), "momentum": rng.normal(shift, 0.01, 40)})
    features = drift.feature_drift(ref, cur, ["score", "momentum"])
    realised = drift.realised_error("2022Q3", pd.DataFrame({"sector": [1], "score": [0.5]}),
                                    log_rows("2022Q2", "1", "t"), pd.DataFrame(), {"1": 0.01}, current_version="1")
    pred = drift.prediction_shift(ref["score"], cur["score"]) | {"note": "n"}
    return mr.DriftReport("2022Q3", ["2021Q4", "2022Q1", "2022Q2", "2022Q3"],
                          {"version": "1", "model": "ridge", "origin": "2022Q2", "run_id": "r", "backtest_mae": 0.01},
                          "2019Q1..2021Q3", features, pred, realised,
                          {"p_threshold": 0.15, "share_threshold": 0.3, "min_samples": 8, "margin": 0.2},
                          reference=ref, current=cur, reference_predictions=ref["score"].to_numpy(),
                          current_predictions=cur["score"].to_numpy())


def test_report_json_is_strict_and_html_is_self_contained() -> None:
    report = _report(shift=0.05)
    body = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert body["flags"] == {"data_drift": True, "degraded": True, "retrain": True}
    assert body["realised_error"]["n"] == 1 and len(body["data_drift"]["features"]) == 2
    images = mr.figures(report)
    html = mr.to_html(report, images)
    assert html.startswith("<!DOCTYPE html>") and html.count("data:image/png;base64,") == 3
    assert "<link" not in html and "<script" not in html and "momentum" in html
    markdown = mr.summary_markdown(report)
    assert "DATA DRIFT" in markdown and "| momentum" in markdown and "40 rows" in markdown
