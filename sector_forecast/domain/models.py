"""Forecast models behind one interface, so the orchestration layer can loop over them.

Every model is tuned and calibrated the same honest way: the training window's last K quarters (ordered
by quarter, all sectors together — never a random split, never one sector's rows) are the validation set;
each hyper-parameter candidate is fitted on the quarters before them and scored by MAE; the winner's
validation residuals give a split-conformal interval; then the winner is refitted on the whole window.
A fit for origin q sees targets up to q only (rows of quarter <= q-1, whose target is the score of q+1 <= q).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from xgboost import XGBRegressor

from sector_forecast.domain.features import FEATURE_COLUMNS, TARGET_COLUMN
from sector_forecast.domain.metrics import conformal_interval
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES

PREDICTION_COLUMNS: list[str] = ["sector", "quarter", "prediction", "lower", "upper"]
BACKTEST_COLUMNS: list[str] = [
    "model", "sector", "quarter", "origin", "target_quarter", "prediction", "lower", "upper", "actual",
    "current_score",
]
DEFAULT_COVERAGE = 0.8
DEFAULT_VALIDATION_QUARTERS = 4
_NUMERIC = [c for c in FEATURE_COLUMNS if c != "sector"]


def _ridge(params: dict[str, Any], seed: int) -> Pipeline:
    """Median-impute + scale the numeric features, one-hot the sector (a fixed category list)."""
    numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    sector = OneHotEncoder(categories=[list(SECTOR_CODES)], handle_unknown="ignore", sparse_output=False)
    prep = ColumnTransformer([("num", numeric, _NUMERIC), ("sector", sector, ["sector"])])
    return Pipeline([("prep", prep), ("ridge", Ridge(alpha=params["alpha"]))])


def _xgboost(params: dict[str, Any], seed: int) -> XGBRegressor:
    """Small trees on few rows; single-threaded and seeded so refits are bit-identical."""
    return XGBRegressor(
        **params, tree_method="hist", enable_categorical=True, n_jobs=1, random_state=seed, verbosity=0
    )


def _ridge_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[FEATURE_COLUMNS].astype({"sector": "int64"})


def _xgb_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Sector as a pandas category with all ten levels, so codes mean the same in every fit."""
    x = frame[FEATURE_COLUMNS].copy()
    x["sector"] = pd.Categorical(x["sector"].astype("int64"), categories=list(SECTOR_CODES))
    return x.astype({c: "float64" for c in _NUMERIC})


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model: a baseline column rule or an estimator factory plus its tuning grid."""

    name: str
    description: str
    grid: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    baseline_column: str | None = None
    build: Callable[[dict[str, Any], int], Any] | None = None
    design: Callable[[pd.DataFrame], pd.DataFrame] | None = None

    @property
    def is_baseline(self) -> bool:
        return self.build is None


MODELS: dict[str, ModelSpec] = {
    "naive": ModelSpec(
        "naive", "Persistence: next quarter's score = this quarter's score.", baseline_column="score"
    ),
    "seasonal_naive": ModelSpec(
        "seasonal_naive",
        "Same quarter last year: the target is q+1, whose quarter a year earlier is q-3 (score_lag3).",
        baseline_column="score_lag3",
    ),
    "ridge": ModelSpec(
        "ridge",
        "Ridge regression on all features, sector one-hot; alpha tuned on the last quarters of the window.",
        grid=[{"alpha": a} for a in (0.01, 0.1, 1.0, 10.0, 100.0)],
        build=_ridge,
        design=_ridge_frame,
    ),
    "xgboost": ModelSpec(
        "xgboost",
        "Gradient-boosted trees pooled over sectors (sector as a category); small grid.",
        grid=[
            {"max_depth": d, "n_estimators": n, "learning_rate": 0.1}
            for d in (2, 3) for n in (40, 120)
        ],
        build=_xgboost,
        design=_xgb_frame,
    ),
}


@dataclass
class FittedModel:
    """A fitted model with its interval and provenance; picklable, so joblib/MLflow can store it."""

    name: str
    params: dict[str, Any]
    train_rows: int
    train_quarters: tuple[str, str]
    interval_halfwidth: float
    coverage: float
    validation_quarters: list[str]
    validation_mae: float
    tuning: list[dict[str, Any]]
    seed: int
    estimator: Any = None
    sector_means: dict[int, float] = field(default_factory=dict)
    global_mean: float = float("nan")

    def _point(self, frame: pd.DataFrame) -> np.ndarray:
        spec = MODELS[self.name]
        if not spec.is_baseline:
            return np.asarray(self.estimator.predict(spec.design(frame)), dtype="float64")
        # Baselines fall back when their column is missing: current score, then the sector's training mean.
        pred = frame[spec.baseline_column].astype("float64")
        pred = pred.fillna(frame["score"].astype("float64"))
        pred = pred.fillna(frame["sector"].map(self.sector_means)).fillna(self.global_mean)
        return pred.to_numpy(dtype="float64")

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Point forecast clipped to [0, 1] and a symmetric conformal interval, per (sector, quarter)."""
        pred = np.clip(self._point(frame), 0.0, 1.0)
        out = frame[["sector", "quarter"]].reset_index(drop=True).copy()
        out["prediction"] = pred
        out["lower"] = np.clip(pred - self.interval_halfwidth, 0.0, 1.0)
        out["upper"] = np.clip(pred + self.interval_halfwidth, 0.0, 1.0)
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description for run metadata."""
        return {
            "name": self.name, "params": self.params, "train_rows": self.train_rows,
            "train_quarters": list(self.train_quarters), "interval_halfwidth": self.interval_halfwidth,
            "coverage": self.coverage, "validation_quarters": self.validation_quarters,
            "validation_mae": self.validation_mae, "seed": self.seed,
        }


def _fit_once(spec: ModelSpec, params: dict[str, Any], rows: pd.DataFrame, seed: int) -> FittedModel:
    """Fit one candidate on ``rows`` (no interval yet)."""
    estimator = None
    if not spec.is_baseline:
        estimator = spec.build(params, seed)
        estimator.fit(spec.design(rows), rows[TARGET_COLUMN].to_numpy(dtype="float64"))
    means = rows.groupby("sector")[TARGET_COLUMN].mean()
    return FittedModel(
        name=spec.name, params=dict(params), train_rows=len(rows),
        train_quarters=(str(rows["quarter"].min()), str(rows["quarter"].max())),
        interval_halfwidth=float("nan"), coverage=float("nan"), validation_quarters=[],
        validation_mae=float("nan"), tuning=[], seed=seed, estimator=estimator,
        sector_means={int(k): float(v) for k, v in means.items()},
        global_mean=float(rows[TARGET_COLUMN].mean()),
    )


def _training_rows(train: pd.DataFrame) -> pd.DataFrame:
    """Rows usable for fitting: known target and known current score, in a canonical order."""
    rows = train[train[TARGET_COLUMN].notna() & train["score"].notna()]
    return rows.sort_values(["quarter", "sector"], kind="mergesort", ignore_index=True)


def fit_model(
    name: str,
    train: pd.DataFrame,
    seed: int = 0,
    coverage: float = DEFAULT_COVERAGE,
    validation_quarters: int = DEFAULT_VALIDATION_QUARTERS,
) -> FittedModel:
    """Tune on the window's last quarters (time-ordered), calibrate the interval, refit on the window."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    spec = MODELS[name]
    rows = _training_rows(train)
    quarters = sorted(rows["quarter"].unique())
    if len(quarters) < 2:
        raise ValueError(f"{name}: need targets in at least 2 quarters to tune and calibrate, got {quarters}")
    k = min(validation_quarters, max(1, len(quarters) // 4))
    val_q = quarters[-k:]
    fit_part, val_part = rows[rows["quarter"] < val_q[0]], rows[rows["quarter"] >= val_q[0]]
    tuning, best, best_res = [], None, None
    for params in spec.grid:
        cand = _fit_once(spec, params, fit_part, seed)
        res = val_part[TARGET_COLUMN].to_numpy() - cand.predict(val_part)["prediction"].to_numpy()
        mae = float(np.mean(np.abs(res)))
        tuning.append({"params": dict(params), "validation_mae": mae})
        if best is None or mae < best["validation_mae"]:  # ties keep the earlier (simpler) candidate
            best, best_res = tuning[-1], res
    model = _fit_once(spec, best["params"], rows, seed)
    model.interval_halfwidth = conformal_interval(best_res, coverage)
    model.coverage = coverage
    model.validation_quarters = [str(q) for q in val_q]
    model.validation_mae = best["validation_mae"]
    model.tuning = tuning
    return model


def rolling_origin_fit(
    name: str, features: pd.DataFrame, origin: str, seed: int = 0, coverage: float = DEFAULT_COVERAGE
) -> tuple[FittedModel, pd.DataFrame]:
    """Fit on everything known at ``origin`` and forecast origin+1 from the rows of quarter == origin.

    Training rows are quarter <= origin-1: their targets (scores up to origin) are known at origin. The rows
    of quarter == origin are only used as forecast inputs, never as training data.
    """
    train = features[features["quarter"] <= quarter_offset(origin, -1)]
    current = features[features["quarter"] == origin].sort_values("sector", ignore_index=True)
    if current.empty:
        raise ValueError(f"no feature rows for origin {origin}")
    model = fit_model(name, train, seed=seed, coverage=coverage)
    pred = model.predict(current)
    pred["model"] = name
    pred["origin"] = origin
    pred["target_quarter"] = quarter_offset(origin, 1)
    pred["actual"] = current[TARGET_COLUMN].astype("float64").to_numpy()
    pred["current_score"] = current["score"].astype("float64").to_numpy()
    return model, pred[BACKTEST_COLUMNS]


def backtest(
    features: pd.DataFrame, origins: list[str], names: list[str] | None = None, seed: int = 0
) -> pd.DataFrame:
    """Rolling-origin predictions of several models over several origins (a convenience for tests/CLI)."""
    frames = [
        rolling_origin_fit(name, features, origin, seed=seed)[1]
        for name in (names or list(MODELS)) for origin in origins
    ]
    return pd.concat(frames, ignore_index=True)
