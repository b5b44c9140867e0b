"""Stored values are open files: a dict is JSON with its tables as Parquet beside it, readable without our code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sector_forecast.storage.values import PARTS, Pickled, read_value, write_value


class Estimator:
    """Stands in for a fitted model: neither a table nor plain data, so it is the one thing pickled."""

    def __init__(self, coef: float) -> None:
        self.coef = coef


def leaderboard_like() -> dict:
    return {
        "overall": pd.DataFrame({"model": ["glm", "naive"], "mase": [0.81, np.nan]}),
        "gate": {"p_value": np.float64(0.004), "promoted": np.bool_(True), "origins": np.int64(58),
                 "statistic": float("nan"), "levels": (0.8, 0.95)},
        "decision": "promoted",
        "model": Estimator(0.5),
        "by_sector": {1: "keys that are not strings would come back as strings"},
    }


def test_a_dict_is_json_with_its_tables_as_parquet_and_reads_back(tmp_path: Path) -> None:
    base = tmp_path / "backtest_leaderboard" / "value"
    path = write_value(base, leaderboard_like())
    assert path == base.with_suffix(".json")
    doc = json.loads(path.read_text())  # plain JSON: no project class needed to read it
    assert doc["decision"] == "promoted" and doc["gate"]["origins"] == 58 and doc["gate"]["levels"] == [0.8, 0.95]
    assert pd.read_parquet(base.parent / doc["overall"]["$parquet"])["model"].tolist() == ["glm", "naive"]
    # Only what neither format holds is pickled: the estimator, and the dict with integer keys.
    assert set(doc["model"]) == {"$pickle"} and set(doc["by_sector"]) == {"$pickle"}
    back = read_value(base)
    assert back["overall"].equals(leaderboard_like()["overall"])
    assert back["gate"]["p_value"] == 0.004 and np.isnan(back["gate"]["statistic"])
    assert back["model"].coef == 0.5 and back["by_sector"] == leaderboard_like()["by_sector"]


def test_rewrites_leave_only_the_files_the_new_value_names(tmp_path: Path) -> None:
    base = tmp_path / "fit_glm" / "2024-01-01"
    write_value(base, leaderboard_like())
    write_value(base, leaderboard_like())  # a re-run: new side files, the old ones removed
    assert len(list((base.parent / PARTS).iterdir())) == 3  # overall, model, by_sector
    write_value(base, pd.DataFrame({"x": [1]}))  # a different format replaces the JSON and its parts
    assert sorted(p.name for p in base.parent.iterdir()) == ["2024-01-01.parquet", PARTS]
    assert not list((base.parent / PARTS).iterdir())
    assert read_value(base)["x"].tolist() == [1]


def test_nothing_stored_is_a_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_value(tmp_path / "absent" / "value")


def test_lazy_pickles_come_back_unpickled_only_on_load(tmp_path: Path) -> None:
    base = tmp_path / "fit_glm" / "2024-01-01"
    write_value(base, leaderboard_like())
    lazy = read_value(base, lazy_pickles=True)
    assert isinstance(lazy["model"], Pickled) and isinstance(lazy["by_sector"], Pickled)
    assert lazy["overall"].equals(leaderboard_like()["overall"]) and lazy["decision"] == "promoted"
    assert lazy["model"].load().coef == 0.5 and lazy["by_sector"].load() == leaderboard_like()["by_sector"]
