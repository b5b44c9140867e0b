"""The leaderboard's runs table is the same whether it reads a fit's stored summary or unpickles its model.

`backtest_leaderboard` reads its fit inputs with lazy pickles (`defs/io_manager.LAZY_PICKLES`), so a run does
not unpickle hundreds of estimators (importing scikit-learn and XGBoost) for a name and two strings; fits stored
before the summary existed fall back to the pickle. Both must give the table the eager read gave, string for
string (the parameters' text and the missing sectors' order among them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sector_forecast.defs.assets.evaluation import _runs
from sector_forecast.defs.assets.models import run_summary
from sector_forecast.domain.forecasters import FittedModel
from sector_forecast.storage.values import Pickled, read_value, write_value


def fitted(name: str) -> FittedModel:
    return FittedModel(name=name, params={"alpha": np.float64(0.25), "max_depth": 3}, train_rows=120,
                       train_quarters=("2009Q1", "2011Q4"), validation_quarters=[], validation_mae=0.5, tuning=[],
                       seed=0, missing={10: "suppressed", 2: "too short", 3: "constant"})


def stored_fits(tmp_path: Path, with_summary: bool, lazy: bool) -> dict[str, dict]:
    fits: dict[str, dict] = {}
    for name in ("glm", "xgboost"):
        for key in ("2024-01-01", "2024-04-01"):
            value = {"model": fitted(name), "predictions": pd.DataFrame({"x": [1.0]}), "mlflow_run_id": f"{name}{key}"}
            if with_summary:
                value["summary"] = run_summary(value["model"])
            base = tmp_path / str(with_summary) / f"fit_{name}" / key
            write_value(base, value)
            fits.setdefault(f"fit_{name}", {})[key] = read_value(base, lazy_pickles=lazy)
    return fits


def test_the_runs_table_from_summaries_equals_the_one_from_the_models(tmp_path: Path) -> None:
    eager = _runs(stored_fits(tmp_path, with_summary=False, lazy=False))
    assert eager["missing"].iloc[0] == "2: too short; 3: constant; 10: suppressed"
    summarised = stored_fits(tmp_path, with_summary=True, lazy=True)
    for fit in summarised.values():
        for part in fit.values():
            assert isinstance(part["model"], Pickled)
            part["model"].path.unlink()  # the summary path must not unpickle anything
    pd.testing.assert_frame_equal(_runs(summarised), eager, check_exact=True)
    old_layout = stored_fits(tmp_path / "old", with_summary=False, lazy=True)  # fits stored before summaries
    pd.testing.assert_frame_equal(_runs(old_layout), eager, check_exact=True)
