"""`sector-forecast run`'s worker processes (`defs/stage_pool.py`): how many, in which order, none outliving its run.

That the fits they store equal a fit run alone or in a range in one process is `pipeline/test_pipeline_one_model.py`
(the session's graph is a cold run, so its fits come from the workers).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from sector_forecast.defs.assets.models import FIT_ASSET_NAMES
from sector_forecast.defs.run_process import process_token
from sector_forecast.defs.stage_pool import WORKERS_ENV, costliest_first, stage_workers

# A parent whose one pool worker is busy (as with a fit) and prints its pid; the parent waits to be killed.
# Busy matters: an idle worker leaves anyway when its parent's end of the task queue closes.
PARENT = """
import time
from sector_forecast.defs.stage_pool import worker_pool
pool = worker_pool(1)
pool.submit(exec, "import os, time; print(os.getpid(), flush=True); time.sleep(600)")
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_dies_with_the_process_that_started_it() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert process_token(worker) is not None  # the control: the worker lives while its parent does
        time.sleep(1)
        assert process_token(worker) is not None
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while process_token(worker) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process_token(worker) is None, f"worker {worker} outlived its SIGKILLed parent"
    finally:
        parent.kill()
        parent.wait(timeout=30)


def test_the_tuned_regressions_start_first() -> None:
    # glm, glm_seasonal and xgboost are "regression" (tuned by cross-validation: ~30 s each in a cold run),
    # theta "series" (~7 s), naive, seasonal_naive and mean_4q "rule" (~5 s; docs/benchmarks.md).
    assert costliest_first(list(FIT_ASSET_NAMES)) == [
        "fit_glm", "fit_glm_seasonal", "fit_xgboost", "fit_theta", "fit_mean_4q", "fit_naive", "fit_seasonal_naive"]


def test_the_number_of_workers_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert stage_workers() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(WORKERS_ENV, bad)
        with pytest.raises(ValueError, match=WORKERS_ENV):
            stage_workers()
    monkeypatch.delenv(WORKERS_ENV)
    assert stage_workers() >= 1
