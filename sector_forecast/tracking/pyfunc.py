"""The registered model `sector-vitality`: an MLflow pyfunc a caller can use with a sector code alone.

Input columns: `sector` (int 1–10, required), `quarter` (the quarter to forecast, e.g. `2026Q4`; optional,
default the quarter after the model's forecast origin), and optionally explicit feature columns (all of
`EXPLICIT_COLUMNS`), in which case the stored feature frame is not consulted. Output: one row per input row
with `sector, quarter, prediction` (expected bankruptcies), `lower80, upper80, lower95, upper95, model,
model_origin, data_source`.

The intervals use the champion's per-sector conformal quantiles from its real-time backtest residuals, so the
served forecast equals the `forecasts` asset for the same quarter and model version; `data_source` says
whether the model learnt from DST's data or the reconstructed snapshot.
Bad requests (unknown or misspelt fields, a missing or non-integer `sector`, an unknown code, a `quarter`
that is not a string like `2026Q4` or lies outside the stored data, non-numeric features) raise an
`MlflowException(INVALID_PARAMETER_VALUE)` whose message starts with the problem: HTTP 400, no stack trace.
Nothing is coerced: MLflow's input-schema enforcement is off on purpose (see `signature`). An unexpected
scoring failure is a one-line HTTP 500; its trace goes to the server log.

Logged as MLflow *models-from-code* (`log_serving_model`): a model-code file, the part of `sector_forecast`
the model imports (`code/`, no Dagster) and requirements pinned to this environment, so it serves from a
fresh environment built from its own `requirements.txt`. Only the fitted estimator is pickled (an artifact).
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import re
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE
from mlflow.types.schema import ColSpec, Schema
from pyarrow.fs import LocalFileSystem

from sector_forecast.domain.calibration import COVERAGES, interval_bounds
from sector_forecast.domain.features import COUNT_COLUMNS, FEATURE_COLUMNS
from sector_forecast.domain.periods import QUARTER_PATTERN, quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES
from sector_forecast.tracking.packaging import import_closure, serving_requirements, stage_code

INTERVAL_COLUMNS = ["lower80", "upper80", "lower95", "upper95"]
OUTPUT_COLUMNS = ["sector", "quarter", "prediction", *INTERVAL_COLUMNS, "model", "model_origin", "data_source"]
EXPLICIT_COLUMNS = [c for c in FEATURE_COLUMNS if c != "sector"] + COUNT_COLUMNS
_NUMERIC_FEATURES = EXPLICIT_COLUMNS
_ALLOWED_INPUTS = {"sector", "quarter", *_NUMERIC_FEATURES}
_QUARTER_RE = re.compile(rf"^{QUARTER_PATTERN}$")
_NUMBER = (int, np.integer, float, np.floating)
_log = logging.getLogger(__name__)


class ProblemFirst(MlflowException):
    """An MlflowException whose message starts with the problem, also after MLflow's scoring server rewrote it:
    the server prefixes it with `Failed to predict data '<the input frame>'. Error:`; this moves that dump last.
    """

    _SERVER_PREFIX = re.compile(r"^Failed to predict data '(?P<data>.*)'\. \nError: (?P<problem>.*)$", re.S)

    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        found = self._SERVER_PREFIX.match(value)
        self._message = f"{found['problem']}\n(input: {found['data']})" if found else value


def _bad_request(message: str) -> ProblemFirst:
    return ProblemFirst(message, error_code=INVALID_PARAMETER_VALUE)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _sector_codes(values: pd.Series) -> list[int]:
    """Each value must be an integer code 1–10 (an integral float such as 4.0 counts; text, bools do not)."""
    missing = [i for i, v in enumerate(values) if _missing(v)]
    if missing:
        raise _bad_request(f"'sector' is missing in row(s) {missing[:5]}: send an integer 1–10")
    bad = [v for v in values if isinstance(v, bool | np.bool_) or not isinstance(v, _NUMBER) or float(v) != int(v)]
    if bad:
        raise _bad_request(f"'sector' must be an integer 1–10, got {_show(bad[0])}")
    codes = [int(v) for v in values]
    unknown = sorted(set(codes) - set(SECTOR_CODES))
    if unknown:
        raise _bad_request(f"unknown sector code(s) {unknown}: valid codes are 1–10")
    return codes


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _quarters(request: pd.DataFrame, default: str) -> list[str]:
    """`quarter` per row: a string like '2026Q4'; absent or null means the default quarter (documented)."""
    if "quarter" not in request.columns:
        return [default] * len(request)
    out = []
    for value in request["quarter"]:
        if _missing(value):
            out.append(default)
        elif not isinstance(value, str) or not _QUARTER_RE.match(value):
            raise _bad_request(f"'quarter' must be a string like '2026Q4', got {_show(value)}")
        else:
            out.append(value)
    return out


class SectorVitalityModel(mlflow.pyfunc.PythonModel):
    """Wraps a fitted domain model, the feature frame it forecasts from, and its backtest interval."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["fitted_model"], "rb") as handle:
            self.fitted = pickle.load(handle)
        self.features = pd.read_parquet(context.artifacts["feature_frame"], filesystem=LocalFileSystem())
        self.meta = json.loads(Path(context.artifacts["meta"]).read_text())

    def _explicit_rows(self, request: pd.DataFrame, sectors: list[int], quarters: list[str]) -> pd.DataFrame:
        missing = [c for c in _NUMERIC_FEATURES if c not in request.columns]
        if missing:
            raise _bad_request(f"explicit features are incomplete: missing {missing}")
        rows = request[_NUMERIC_FEATURES].copy()
        for col in _NUMERIC_FEATURES:
            bad = [v for v in rows[col] if not _missing(v) and (isinstance(v, bool | np.bool_ | str)
                                                                 or not np.isscalar(v))]
            if bad:
                raise _bad_request(f"feature '{col}' must be a number or null, got {_show(bad[0])}")
            rows[col] = pd.to_numeric(rows[col]).astype("float64")
        rows.insert(0, "sector", sectors)
        rows["quarter"] = [quarter_offset(q, -1) for q in quarters]
        return rows.reset_index(drop=True)

    def _rows_for(self, request: pd.DataFrame) -> pd.DataFrame:
        unknown = sorted(set(map(str, request.columns)) - _ALLOWED_INPUTS)
        if unknown:
            raise _bad_request(f"unknown field(s) {unknown}: send 'sector' (1–10), optionally 'quarter' "
                               "(like '2026Q4') and optionally all model features")
        if "sector" not in request.columns:
            raise _bad_request("missing required field 'sector' (an integer 1–10)")
        sectors = _sector_codes(request["sector"])
        quarters = _quarters(request, quarter_offset(self.meta["origin"], 1))
        if any(c in request.columns for c in _NUMERIC_FEATURES):
            return self._explicit_rows(request, sectors, quarters)
        available = sorted(self.features["quarter"].unique())
        first, last = quarter_offset(available[0], 1), quarter_offset(available[-1], 1)
        rows = []
        for sector, quarter in zip(sectors, quarters, strict=True):
            match = self.features[(self.features["sector"] == sector)
                                  & (self.features["quarter"] == quarter_offset(quarter, -1))]
            if match.empty:
                raise _bad_request(f"quarter {quarter} is outside the data: this model forecasts {first}..{last}")
            rows.append(match.iloc[0])
        return pd.DataFrame(rows).reset_index(drop=True)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            try:
                model_input = pd.DataFrame(model_input)
            except (TypeError, ValueError) as err:
                raise _bad_request(f"request is not a table of rows with a 'sector' field: {err}") from None
        if model_input.empty:
            raise _bad_request("empty request: send at least one row with a 'sector'")
        rows = self._rows_for(model_input)
        try:
            point = self.fitted.predict(rows)["prediction"].to_numpy(dtype=float)
        except Exception as err:  # a bug, not a bad request: one line to the caller, the trace to the log
            _log.exception("sector-vitality: scoring failed")
            raise ProblemFirst(f"scoring failed: {type(err).__name__}: {err}", error_code=INTERNAL_ERROR) from None
        out = pd.DataFrame({
            "sector": rows["sector"].astype(int).to_numpy(),
            "quarter": [quarter_offset(q, 1) for q in rows["quarter"]],
            "prediction": point,
        })
        quantiles = self.meta["quantiles"]
        for coverage in COVERAGES:
            q = out["sector"].map(lambda s, c=coverage: float(quantiles[str(s)][str(c)])).to_numpy()
            lower, upper = interval_bounds(point, q)
            tag = round(coverage * 100)
            out[f"lower{tag}"], out[f"upper{tag}"] = lower, upper
        return out.assign(model=self.meta["model"], model_origin=self.meta["origin"],
                          data_source=self.meta["data_source"])[OUTPUT_COLUMNS]


def signature() -> ModelSignature:
    """Outputs only: input columns are validated by `predict` itself.

    MLflow's input-schema enforcement would cast `sector: 1.5` to 1 and silently drop misspelt fields
    (`quater`), serving the default quarter instead — exactly the silent defaults the service must not have.
    The input example (logged with the model) documents the request.
    """
    outputs = Schema(
        [ColSpec("long", "sector"), ColSpec("string", "quarter"), ColSpec("double", "prediction"),
         *[ColSpec("double", c) for c in INTERVAL_COLUMNS], ColSpec("string", "model"),
         ColSpec("string", "model_origin"), ColSpec("string", "data_source")]
    )
    return ModelSignature(inputs=None, outputs=outputs)


def string_keyed(table: dict, kind: type = float) -> dict[str, dict[str, Any]]:
    """{sector: {coverage: value}} with string keys, as JSON holds it (the model's meta, the champion's value)."""
    return {str(s): {str(c): kind(v) for c, v in by_coverage.items()} for s, by_coverage in table.items()}


# The model-code file MLflow runs to build the model (models-from-code), importing it from the logged `code/`.
MODEL_CODE = ('"""sector-vitality: the MLflow model-code file (written by sector_forecast.tracking.pyfunc)."""\n'
              "import mlflow\n\nfrom sector_forecast.tracking.pyfunc import SectorVitalityModel\n\n"
              "mlflow.models.set_model(SectorVitalityModel())\n")


def log_serving_model(
    fitted: Any, features: pd.DataFrame, *, model: str, origin: str, workdir: Path,
    quantiles: dict[int, dict[float, float]] | None = None, data_source: str = "unknown",
) -> Any:
    """Log the pyfunc into the active MLflow run as models-from-code, with its code and pinned requirements."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "fitted_model.pkl").write_bytes(pickle.dumps(fitted))
    features.to_parquet(workdir / "feature_frame.parquet", index=False)
    # Without backtest quantiles (a fit logged before any grading) the interval is honest: unbounded.
    quantiles = quantiles or {s: {c: float("inf") for c in COVERAGES} for s in SECTOR_CODES}
    meta = {"model": model, "origin": origin, "data_source": data_source,
            "quantiles": string_keyed(quantiles)}
    (workdir / "meta.json").write_text(json.dumps(meta))
    (workdir / "model_code.py").write_text(MODEL_CODE)
    modules = import_closure([__name__, type(fitted).__module__])
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(workdir / "model_code.py"),  # a path, not an object: nothing is cloudpickled
        artifacts={name: str(workdir / file) for name, file in [
            ("fitted_model", "fitted_model.pkl"), ("feature_frame", "feature_frame.parquet"), ("meta", "meta.json")]},
        signature=signature(),
        input_example=pd.DataFrame({"sector": [1, 4], "quarter": [quarter_offset(origin, 1)] * 2}),
        # None (the default) would leave the model importable only where `sector_forecast` is installed, and
        # `infer_code_paths` only sees code under the current directory: the closure is computed instead.
        code_paths=[str(stage_code(modules, workdir / "code"))],
        # Explicit requirements: MLflow's inference loads the model in a subprocess (seconds per model) and
        # cannot see that `code/` needs scikit-learn and xgboost.
        pip_requirements=serving_requirements(modules),
    )
