"""Loading the code location, or the instance's run coordinator, does not load the libraries only a run uses.

Every code server and every run worker imports `sector_forecast.defs.definitions`; the webserver, the daemon
and the `dagster dev` supervisor import `dagster.yaml`'s run coordinator module (`defs/dagster_gaps.py`).
statsforecast (4 s to import, statsmodels.api and fugue with it), scikit-learn and XGBoost (~2.5 s each),
MLflow (~2.5 s), scipy.stats (~1.5 s) and matplotlib (~1.5 s) are imported inside the functions that fit,
log or draw (figures in docs/benchmarks.md). A module-level import of any of them anywhere in the graph's
modules brings the cost back into every process: these tests name it. Each runs in a fresh interpreter, as the
processes do; what is checked is which modules are loaded, never how long anything takes.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Fitting, tracking, plotting and statistics libraries: needed inside asset bodies only.
RUN_TIME_ONLY = ("statsforecast", "statsmodels", "fugue", "sklearn", "xgboost", "mlflow", "matplotlib", "scipy",
                 "threadpoolctl")
# The daemon and webserver hold no data: not even pandas (~90 MiB with the pyarrow it imports) in them.
DATA_LIBRARIES = ("pandas", "pyarrow", "numpy", "pandera", *RUN_TIME_ONLY)


def loaded_after(statement: str, names: tuple[str, ...]) -> list[str]:
    """Which of the top-level packages (or exact modules) in `names` a fresh interpreter has after `statement`."""
    code = (f"import json, sys\n{statement}\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(names)!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_loading_the_definitions_loads_none_of_the_run_time_libraries() -> None:
    assert loaded_after("import sector_forecast.defs.definitions", RUN_TIME_ONLY) == []


def test_the_run_coordinator_module_loads_no_data_library() -> None:
    assert loaded_after("import sector_forecast.defs.dagster_gaps", DATA_LIBRARIES) == []


def test_the_drift_statistics_load_scipy_special_not_scipy_stats() -> None:
    """A drift_report run tests and draws with the t distribution: scipy.special's, not scipy.stats' (~1.5 s)."""
    code = ("import sector_forecast.defs.definitions\n"
            "from sector_forecast.domain.gate import dm_test\n"
            "from sector_forecast.domain.hypothesis import prediction_interval_test\n"
            "prediction_interval_test([1.0, 2.0, 4.0], 3.0); dm_test([1.0, 2.0, 3.0], [2.0, 2.5, 3.5])\n"
            "print(json.dumps(['scipy.special' in sys.modules, 'scipy.stats' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", f"import json, sys\n{code}"], capture_output=True, text=True,
                         timeout=180, check=True)  # fmt: skip
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, False]
