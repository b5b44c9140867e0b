"""Loading the code location does not load the libraries only a run uses.

Every code server and every run worker imports `sector_forecast.defs.definitions`; scikit-learn, XGBoost,
MLflow, matplotlib and scipy.stats together took ~5 s of that before they were deferred into the functions
that use them (figures in docs/benchmarks.md). A module-level import of any of them anywhere in the
graph's modules brings the cost back: this test names it.
"""

from __future__ import annotations

import json
import subprocess
import sys

DEFERRED = ("sklearn", "xgboost", "mlflow", "matplotlib", "scipy.stats", "threadpoolctl")


def test_defining_the_graph_loads_none_of_the_run_time_libraries() -> None:
    code = ("import json, sys; import sector_forecast.defs.definitions; "
            f"print(json.dumps([m for m in {list(DEFERRED)!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
