"""The registered model `sector-vitality`: the champion's real-time forecasts, served by sector and quarter.

The served model is the backtested one (issue 19): a table of the champion's forecasts for every origin of its
real-time backtest and the newest origin, each with the 80%/95% interval calibrated *at that origin* (only
residuals graded before it). Asking for a past quarter returns the forecast that was made for it then and graded
since — never an in-sample fit of a later model. Nothing is refitted or re-predicted when serving, so the served
forecast equals the `forecasts` asset and the leaderboard row for the same quarter and model version.

Input columns: `sector` (int 1–10, required), `horizon` (int 1–4, optional, default 1: how many quarters after its
origin the forecast was made) and `quarter` (the forecast quarter, e.g. `2026Q4`; optional, default the quarter
`horizon` quarters after the newest origin). Output: one row per input row with `sector, quarter, horizon,
prediction` (expected bankruptcies), `lower80, upper80, lower95, upper95` (calibrated at that horizon), `model,
model_origin` (the origin the forecast was made at: quarter − horizon), `data_source`; with the parameter
`explain: true`, also `why` (what moved each of the newest origin's forecasts since the origin before, every
horizon, from `domain.explain`; rows of older origins say no explanation was registered). Bad requests (unknown or
misspelt fields, a missing or non-integer `sector`, an unknown code, a `horizon` outside 1–4, a `quarter` that is not
a string like `2026Q4`, or a quarter/horizon pair with no forecast) raise an `MlflowException(INVALID_PARAMETER_VALUE)`
whose message starts with the problem: HTTP 400, no stack trace. Nothing is coerced: MLflow's input-schema
enforcement is off on purpose (see `signature`).

Logged as MLflow *models-from-code* (`log_serving_model`): a model-code file, the part of `sector_forecast` the
model imports (`code/`, no Dagster) and requirements pinned to this environment, so it serves from a fresh
environment built from its own `requirements.txt`. Nothing is pickled: the forecasts are a Parquet artifact.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema
from pyarrow.fs import LocalFileSystem

from sector_forecast.domain.periods import QUARTER_PATTERN, quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES
from sector_forecast.tracking.packaging import import_closure, serving_requirements, stage_code

INTERVAL_COLUMNS = ["lower80", "upper80", "lower95", "upper95"]
OUTPUT_COLUMNS = ["sector", "quarter", "horizon", "prediction", *INTERVAL_COLUMNS, "model", "model_origin",
                  "data_source"]
TABLE_COLUMNS = ["sector", "origin", "horizon", "quarter", "prediction", *INTERVAL_COLUMNS]
HORIZONS = (1, 2, 3, 4)  # as domain.features.HORIZONS; the served code imports no more of the domain than it needs
_ALLOWED_INPUTS = {"sector", "quarter", "horizon"}
NO_WHY = "no explanation was registered for this forecast"
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


def _horizons(request: pd.DataFrame) -> list[int]:
    """`horizon` per row: an integer 1–4 (an integral float counts; text, bools do not); absent or null is 1."""
    if "horizon" not in request.columns:
        return [1] * len(request)
    out = []
    for value in request["horizon"]:
        if _missing(value):
            out.append(1)
        elif (isinstance(value, bool | np.bool_) or not isinstance(value, _NUMBER) or float(value) != int(value)
              or int(value) not in HORIZONS):
            raise _bad_request(f"'horizon' must be an integer 1–4 (quarters after the origin), got {_show(value)}")
        else:
            out.append(int(value))
    return out


def _quarters(request: pd.DataFrame, defaults: list[str]) -> list[str]:
    """`quarter` per row: a string like '2026Q4'; absent or null means the row's default quarter (documented)."""
    if "quarter" not in request.columns:
        return list(defaults)
    out = []
    for value, default in zip(request["quarter"], defaults, strict=True):
        if _missing(value):
            out.append(default)
        elif not isinstance(value, str) or not _QUARTER_RE.match(value):
            raise _bad_request(f"'quarter' must be a string like '2026Q4', got {_show(value)}")
        else:
            out.append(value)
    return out


class SectorVitalityModel(mlflow.pyfunc.PythonModel):
    """Looks up the champion's calibrated real-time forecast for each (sector, quarter) asked for."""

    def load_context(self, context: Any) -> None:
        table = pd.read_parquet(context.artifacts["forecasts"], filesystem=LocalFileSystem())
        if "horizon" not in table.columns:  # a model logged before horizons: every forecast is one step ahead
            table = table.assign(horizon=1)
        self.table = table.astype({"horizon": "int64"}).set_index(["sector", "quarter", "horizon"]).sort_index()
        self.spans = {int(h): (str(g.min()), str(g.max())) for h, g in table.groupby("horizon")["quarter"]}
        self.meta = json.loads(Path(context.artifacts["meta"]).read_text())

    def _keys(self, request: pd.DataFrame) -> list[tuple[int, str, int]]:
        unknown = sorted(set(map(str, request.columns)) - _ALLOWED_INPUTS)
        if unknown:
            raise _bad_request(f"unknown field(s) {unknown}: send 'sector' (1–10) and optionally 'quarter' "
                               "(like '2026Q4') and 'horizon' (1–4)")
        if "sector" not in request.columns:
            raise _bad_request("missing required field 'sector' (an integer 1–10)")
        sectors = _sector_codes(request["sector"])
        steps = _horizons(request)
        quarters = _quarters(request, [quarter_offset(self.meta["origin"], h) for h in steps])
        keys = list(zip(sectors, quarters, steps, strict=True))
        for key in keys:
            sector, quarter, horizon = key
            at, ahead = ("", "") if horizon == 1 else (f" at horizon {horizon}", f" {horizon}-quarter-ahead")
            if key not in self.table.index:
                first, last = self.spans.get(horizon, ("none", "none"))
                raise _bad_request(f"quarter {quarter} is outside the data{at}: this model has real-time{ahead} "
                                   f"forecasts for {first}..{last}")
            if not np.isfinite(self.table.loc[key, "prediction"]):
                raise _bad_request(f"{self.meta['model']} made no forecast for sector {sector} in {quarter}{at}: "
                                   f"{self.table.loc[key, 'missing_reason'] or 'input unknown'}")
        return keys

    def _lookup(self, keys: list[tuple[int, str, int]]) -> pd.DataFrame:
        return self.table.loc[keys].reset_index()

    @staticmethod
    def _explain(params: dict | None) -> bool:
        """`params={"explain": true}` adds the `why` column (the signature's ParamSpec has MLflow check the type)."""
        value = (params or {}).get("explain", False)
        if not isinstance(value, bool | np.bool_):
            raise _bad_request(f"'explain' must be true or false, got {_show(value)}")
        return bool(value)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            try:
                model_input = pd.DataFrame(model_input)
            except (TypeError, ValueError) as err:
                raise _bad_request(f"request is not a table of rows with a 'sector' field: {err}") from None
        if model_input.empty:
            raise _bad_request("empty request: send at least one row with a 'sector'")
        keys = self._keys(model_input)
        explain = self._explain(params)
        try:
            rows = self._lookup(keys)
        except Exception as err:  # a bug, not a bad request: one line to the caller, the trace to the log
            _log.exception("sector-vitality: lookup failed")
            raise ProblemFirst(f"scoring failed: {type(err).__name__}: {err}", error_code=INTERNAL_ERROR) from None
        out = rows.rename(columns={"origin": "model_origin"}).assign(
            model=self.meta["model"], data_source=self.meta["data_source"])
        if explain:  # what moved the newest origin's forecasts; older origins say there is none
            out["why"] = out["why"].fillna(NO_WHY) if "why" in out.columns else NO_WHY
        return out.astype({"sector": "int64", "horizon": "int64"})[[*OUTPUT_COLUMNS, *(["why"] if explain else [])]]


def signature() -> ModelSignature:
    """Outputs only: input columns are validated by `predict` itself.

    MLflow's input-schema enforcement would cast `sector: 1.5` to 1 and silently drop misspelt fields
    (`quater`), serving the default quarter instead — exactly the silent defaults the service must not have.
    The input example (logged with the model) documents the request.
    """
    outputs = Schema(
        [ColSpec("long", "sector"), ColSpec("string", "quarter"), ColSpec("long", "horizon"),
         ColSpec("double", "prediction"),
         *[ColSpec("double", c) for c in INTERVAL_COLUMNS], ColSpec("string", "model"),
         ColSpec("string", "model_origin"), ColSpec("string", "data_source"),
         ColSpec("string", "why", required=False)]
    )
    return ModelSignature(inputs=None, outputs=outputs, params=ParamSchema([ParamSpec("explain", "boolean", False)]))


# The model-code file MLflow runs to build the model (models-from-code), importing it from the logged `code/`.
MODEL_CODE = ('"""sector-vitality: the MLflow model-code file (written by sector_forecast.tracking.pyfunc)."""\n'
              "import mlflow\n\nfrom sector_forecast.tracking.pyfunc import SectorVitalityModel\n\n"
              "mlflow.models.set_model(SectorVitalityModel())\n")


def log_serving_model(
    forecasts: pd.DataFrame, *, model: str, origin: str, workdir: Path, data_source: str = "unknown",
) -> Any:
    """Log the pyfunc into the active MLflow run as models-from-code, with its code and pinned requirements.

    ``forecasts``: the champion's calibrated predictions (columns of `TABLE_COLUMNS`, `horizon` and `missing_reason`
    optional), one row per sector, forecast quarter and horizon; ``origin`` is the newest.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    table = forecasts.assign(missing_reason=forecasts.get("missing_reason", pd.Series(dtype="object")))
    if "horizon" not in table.columns:
        table = table.assign(horizon=1)
    table = table[[*TABLE_COLUMNS, "missing_reason", *(["why"] if "why" in table.columns else [])]].astype(
        {"sector": "int64", "horizon": "int64", "missing_reason": "object"})
    table.to_parquet(workdir / "forecasts.parquet", index=False)
    meta = {"model": model, "origin": origin, "data_source": data_source,
            "first_quarter": str(table["quarter"].min())}
    (workdir / "meta.json").write_text(json.dumps(meta))
    (workdir / "model_code.py").write_text(MODEL_CODE)
    modules = import_closure([__name__])
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(workdir / "model_code.py"),  # a path, not an object: nothing is cloudpickled
        artifacts={"forecasts": str(workdir / "forecasts.parquet"), "meta": str(workdir / "meta.json")},
        signature=signature(),
        input_example=pd.DataFrame({"sector": [1, 4], "quarter": [quarter_offset(origin, 1)] * 2, "horizon": [1, 1]}),
        # None (the default) would leave the model importable only where `sector_forecast` is installed, and
        # `infer_code_paths` only sees code under the current directory: the closure is computed instead.
        code_paths=[str(stage_code(modules, workdir / "code"))],
        # Explicit requirements: MLflow's inference would load the model in a subprocess (seconds per model).
        pip_requirements=serving_requirements(modules),
    )
