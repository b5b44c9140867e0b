"""The registered model `sector-vitality`: an MLflow pyfunc a caller can use with a sector code alone.

Input columns: `sector` (int 1–10, required), `quarter` (the quarter to forecast, e.g. `2026Q4`; optional,
default the quarter after the model's forecast origin), and optionally explicit feature columns (all of
`FEATURE_COLUMNS`), in which case the stored feature frame is not consulted. Output: one row per input row
with `sector, quarter, prediction, lower, upper, model, model_origin`.

The interval is the champion's split-conformal half-width from its rolling-origin backtest residuals, so the
served forecast equals the `forecasts` asset for the same quarter and model version.
Bad requests raise `MlflowException(INVALID_PARAMETER_VALUE)`: the scoring server answers HTTP 400 with
the message and no stack trace.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import ColSpec, Schema

from sector_forecast.domain.features import FEATURE_COLUMNS
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES

OUTPUT_COLUMNS = ["sector", "quarter", "prediction", "lower", "upper", "model", "model_origin"]
_NUMERIC_FEATURES = [c for c in FEATURE_COLUMNS if c != "sector"]
_INTEGER_FEATURES = {"quarter_of_year", "births_nowcast"}


def _bad_request(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


class SectorVitalityModel(mlflow.pyfunc.PythonModel):
    """Wraps a fitted domain model, the feature frame it forecasts from, and its backtest interval."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["fitted_model"], "rb") as handle:
            self.fitted = pickle.load(handle)
        self.features = pd.read_parquet(context.artifacts["feature_frame"])
        self.meta = json.loads(Path(context.artifacts["meta"]).read_text())

    def _rows_for(self, request: pd.DataFrame) -> pd.DataFrame:
        if "sector" not in request.columns:
            raise _bad_request("missing required field 'sector' (an integer 1–10)")
        sectors = pd.to_numeric(request["sector"], errors="coerce")
        bad = request.loc[sectors.isna() | (sectors != sectors.round()), "sector"].tolist()
        if bad:
            raise _bad_request(f"'sector' must be an integer 1–10, got {bad[:3]}")
        unknown = sorted(set(sectors.astype(int)) - set(SECTOR_CODES))
        if unknown:
            raise _bad_request(f"unknown sector code(s) {unknown}: valid codes are 1–10")
        default_quarter = quarter_offset(self.meta["origin"], 1)
        quarters = request["quarter"] if "quarter" in request.columns else pd.Series(default_quarter, index=request.index)
        quarters = quarters.where(quarters.notna() & (quarters.astype(str) != ""), default_quarter).astype(str)
        explicit = [c for c in _NUMERIC_FEATURES if c in request.columns]
        if explicit:
            missing = [c for c in _NUMERIC_FEATURES if c not in request.columns]
            if missing:
                raise _bad_request(f"explicit features are incomplete: missing {missing}")
            rows = request[_NUMERIC_FEATURES].apply(pd.to_numeric, errors="coerce")
            rows.insert(0, "sector", sectors.astype(int).to_numpy())
            rows["quarter"] = [quarter_offset(q, -1) for q in quarters]
            return rows.reset_index(drop=True)
        available = sorted(self.features["quarter"].unique())
        rows = []
        for sector, quarter in zip(sectors.astype(int), quarters, strict=True):
            try:
                origin = quarter_offset(quarter, -1)
            except ValueError as err:
                raise _bad_request(f"'quarter' {quarter!r} is not a quarter like '2026Q4'") from err
            match = self.features[(self.features["sector"] == sector) & (self.features["quarter"] == origin)]
            if match.empty:
                raise _bad_request(
                    f"quarter {quarter} is outside the data: this model forecasts "
                    f"{quarter_offset(available[0], 1)}..{quarter_offset(available[-1], 1)}"
                )
            rows.append(match.iloc[0])
        return pd.DataFrame(rows).reset_index(drop=True)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame(model_input)
        if model_input.empty:
            raise _bad_request("empty request: send at least one row with a 'sector'")
        rows = self._rows_for(model_input)
        point = self.fitted.predict(rows)["prediction"].to_numpy(dtype=float)
        half = float(self.meta["interval_halfwidth"])
        return pd.DataFrame(
            {
                "sector": rows["sector"].astype(int).to_numpy(),
                "quarter": [quarter_offset(q, 1) for q in rows["quarter"]],
                "prediction": point,
                "lower": np.clip(point - half, 0.0, 1.0),
                "upper": np.clip(point + half, 0.0, 1.0),
                "model": self.meta["model"],
                "model_origin": self.meta["origin"],
            }
        )


def signature() -> ModelSignature:
    inputs = Schema(
        [ColSpec("long", "sector"), ColSpec("string", "quarter", required=False)]
        + [ColSpec("long" if c in _INTEGER_FEATURES else "double", c, required=False) for c in _NUMERIC_FEATURES]
    )
    outputs = Schema(
        [ColSpec("long", "sector"), ColSpec("string", "quarter"), ColSpec("double", "prediction"),
         ColSpec("double", "lower"), ColSpec("double", "upper"), ColSpec("string", "model"),
         ColSpec("string", "model_origin")]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_serving_model(
    fitted: Any, features: pd.DataFrame, *, model: str, origin: str, interval_halfwidth: float,
    coverage: float, workdir: Path,
) -> Any:
    """Log the pyfunc into the active MLflow run (signature and input example included)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "fitted_model.pkl").write_bytes(pickle.dumps(fitted))
    features.to_parquet(workdir / "feature_frame.parquet", index=False)
    meta = {"model": model, "origin": origin, "interval_halfwidth": interval_halfwidth, "coverage": coverage}
    (workdir / "meta.json").write_text(json.dumps(meta))
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=SectorVitalityModel(),
        artifacts={
            "fitted_model": str(workdir / "fitted_model.pkl"),
            "feature_frame": str(workdir / "feature_frame.parquet"),
            "meta": str(workdir / "meta.json"),
        },
        signature=signature(),
        input_example=pd.DataFrame({"sector": [1, 4], "quarter": [quarter_offset(origin, 1)] * 2}),
        code_paths=None,
    )
