"""How `sector-vitality` is logged: models-from-code, its own code without Dagster, pinned requirements, and no
CloudPickle warning. Fast: a small synthetic model, no pipeline run (the served model is `test_serving_own_env`).
"""

from __future__ import annotations

import ast
import json
import logging
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import mlflow
import pytest
import yaml

from sector_forecast.tracking import CHATTY_MLFLOW_LOGGERS
from sector_forecast.tracking import pyfunc as serving
from sector_forecast_tests.serving.test_serving_pyfunc import ORIGIN, synthetic_table


class Records(logging.Handler):
    """Every record MLflow's loggers emit (they do not propagate to the root logger that `caplog` reads)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname}: {record.getMessage()}")


@contextmanager
def everything_mlflow_says() -> Iterator[None]:
    """Lift our quieting of MLflow's set-up loggers (`tracking.quiet_mlflow_setup_logs`) for a capture that must
    see all of MLflow's records, its INFO lines included; restored afterwards."""
    loggers = [logging.getLogger(name) for name in CHATTY_MLFLOW_LOGGERS]
    saved = [(logger.level, list(logger.filters)) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
        logger.filters.clear()
    try:
        yield
    finally:
        for logger, (level, filters) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.filters[:] = filters


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Log the pyfunc once, recording MLflow's log records, Python warnings and everything printed."""
    root = tmp_path_factory.mktemp("package")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    table = synthetic_table()
    exp = mlflow.create_experiment("package-test", artifact_location=(root / "artifacts").as_uri())
    handler, mlflow_logger = Records(), logging.getLogger("mlflow")
    mlflow_logger.addHandler(handler)
    try:
        with everything_mlflow_says(), warnings.catch_warnings(record=True) as caught, \
                mlflow.start_run(experiment_id=exp):
            warnings.simplefilter("always")
            info = serving.log_serving_model(table, model="mean_4q", origin=ORIGIN, data_source="test data",
                                             workdir=root / "work")
        model_dir = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(root / "model")))
    finally:
        mlflow_logger.removeHandler(handler)
        mlflow.set_tracking_uri(previous)
    said = "\n".join([*handler.lines, *(str(w.message) for w in caught)])
    return model_dir, said


def test_logging_emits_no_cloudpickle_warning(logged: tuple[Path, str]) -> None:
    model_dir, said = logged
    assert said, "no MLflow log record captured: the capture itself is broken"  # e.g. 'Validating input example'
    assert "cloudpickle" not in said.lower(), said  # MLflow's warning for a PythonModel object says "CloudPickle"
    flavor = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model" and "python_model" not in flavor
    assert (model_dir / "model_code.py").read_text() == serving.MODEL_CODE


def test_the_model_carries_its_code_without_dagster(logged: tuple[Path, str]) -> None:
    model_dir, _ = logged
    code = model_dir / "code"
    files = sorted(p.relative_to(code).as_posix() for p in code.rglob("*.py"))
    assert "sector_forecast/tracking/pyfunc.py" in files and "sector_forecast/domain/periods.py" in files
    # The served model is a forecast table: no estimator code, so none of the fitting libraries.
    assert "sector_forecast/domain/forecasters.py" not in files
    assert not [f for f in files if f.startswith(("sector_forecast/defs", "sector_forecast/cli"))], files
    for path in code.rglob("*.py"):
        imported = {alias.name for node in ast.walk(ast.parse(path.read_text()))
                    for alias in getattr(node, "names", []) if isinstance(node, ast.Import)}
        imported |= {node.module for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not {m for m in imported if m.split(".")[0] in ("dagster", "dagster_webserver")}, path


def test_loading_the_model_from_its_code_imports_no_dagster(logged: tuple[Path, str], tmp_path: Path) -> None:
    """In this venv (Dagster installed), load the logged model: its modules come from `code/`, Dagster stays out."""
    model_dir, _ = logged
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model({str(model_dir)!r})\n"
        "out = model.predict(pd.DataFrame({'sector': [1, 2]}))\n"
        "print(json.dumps({'rows': len(out), 'pyfunc': sys.modules['sector_forecast.tracking.pyfunc'].__file__,\n"
        "                  'dagster': sorted(m for m in sys.modules if m.split('.')[0] == 'dagster')}))\n"
    )
    # -I: no PYTHONPATH, no user site, not the checkout on sys.path; the editable install stays behind `code/`.
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["rows"] == 2 and seen["dagster"] == []
    assert Path(seen["pyfunc"]).is_relative_to(model_dir / "code"), seen["pyfunc"]


def test_requirements_pin_every_imported_distribution(logged: tuple[Path, str]) -> None:
    model_dir, _ = logged
    pins = dict(line.split("==") for line in (model_dir / "requirements.txt").read_text().split())
    assert {"mlflow", "numpy", "pandas", "pyarrow"} <= set(pins) and pins == {name: version(name) for name in pins}
    assert not {"scikit-learn", "xgboost-cpu", "statsforecast", "threadpoolctl"} & set(pins)  # nothing is refitted
    closure = serving.import_closure([serving.__name__])
    assert {"pyarrow", "sector_forecast.domain.periods"} <= closure
    assert not {m for m in closure if m.startswith(("dagster", "sector_forecast.defs", "sector_forecast.cli"))}


QUIET_PROBE = """
import sys
if sys.argv[1] == "ours":
    import sector_forecast.tracking.runs as runs  # the package's import quiets MLflow's set-up loggers
    client = runs.client_for(sys.argv[2])
else:
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri=sys.argv[2])
client.search_experiments()
"""


@pytest.mark.parametrize("who", ["ours", "mlflow alone"])
def test_a_new_tracking_store_is_created_quietly(who: str, tmp_path: Path) -> None:
    """Our client creates a new SQLite store without MLflow's INFO chatter; MLflow alone prints it (so the probe
    can see it). Warnings would still show: only records below WARNING of those two loggers are held back."""
    done = subprocess.run([sys.executable, "-c", QUIET_PROBE, who.split()[0], f"sqlite:///{tmp_path / 'm.db'}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    said = "Creating initial MLflow database tables" in done.stderr
    assert said == (who != "ours"), done.stderr[-3000:]
