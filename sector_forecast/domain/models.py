"""Count models for next-quarter bankruptcies per sector, behind one interface.

Every model predicts the mean count μ of the target quarter. Tuning is honest and identical for all: the
training window's last K quarters (time-ordered, all sectors — never a random split, never one sector's
rows) are the validation set, each candidate is fitted on the quarters before them and scored by the
scale-free MAE (|error| / the sector's MASE scale, so a large sector cannot decide alone), the winner is
refitted on the whole window. The winner's validation residuals are kept as the earliest origins' interval
calibration (``calibration.calibrate_backtest`` prefers graded backtest residuals once they exist).
A fit for origin q sees targets up to q only (rows of quarter <= q-1, whose target is a count of <= q).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline
    from xgboost import XGBRegressor

from sector_forecast.domain.calibration import pearson_residual
from sector_forecast.domain.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, TARGET_COLUMN
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES

BACKTEST_COLUMNS: list[str] = [
    "model", "sector", "origin", "target_quarter", "prediction", "actual", "current", "scale",
]
DEFAULT_VALIDATION_QUARTERS = 4
MIN_SCALE = 1.0  # a sector whose count never moved year on year still has a scale of one bankruptcy
_NUMERIC = [c for c in FEATURE_COLUMNS if c not in CATEGORICAL_FEATURES]


def _glm(params: dict[str, Any], seed: int) -> Pipeline:
    """Poisson GLM (log link): median-impute + scale the numeric features, one-hot sector and season.

    ``solver="newton-cholesky"`` instead of scikit-learn's lbfgs: with ~30 columns Newton converges in ~6
    iterations where lbfgs needs ~300 (measured: 0.05 s vs 12 s a fit), to the same optimum.
    scikit-learn is imported here, not at module level (nor xgboost below): the code location imports this
    module to define its assets, and every run worker and code server would pay ~2 s for libraries only a
    fit uses (benchmarks/speed.py).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import PoissonRegressor
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    cats = OneHotEncoder(
        categories=[list(SECTOR_CODES), [1, 2, 3, 4]], handle_unknown="ignore", sparse_output=False
    )
    prep = ColumnTransformer([("num", numeric, _NUMERIC), ("cat", cats, CATEGORICAL_FEATURES)])
    return Pipeline([("prep", prep), ("glm", PoissonRegressor(alpha=params["alpha"], solver="newton-cholesky"))])


def _xgboost(params: dict[str, Any], seed: int) -> XGBRegressor:
    """Small trees with a Poisson objective; single-threaded and seeded so refits are bit-identical."""
    from xgboost import XGBRegressor

    return XGBRegressor(
        **params, objective="count:poisson", tree_method="hist", enable_categorical=True, n_jobs=1,
        random_state=seed, verbosity=0,
    )


def _glm_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[FEATURE_COLUMNS].astype({c: "int64" for c in CATEGORICAL_FEATURES})


def _xgb_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Sector and season as pandas categories with fixed levels, so codes mean the same in every fit."""
    x = frame[FEATURE_COLUMNS].copy()
    x["sector"] = pd.Categorical(x["sector"].astype("int64"), categories=list(SECTOR_CODES))
    x["quarter_of_year"] = pd.Categorical(x["quarter_of_year"].astype("int64"), categories=[1, 2, 3, 4])
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
        "naive", "Persistence: next quarter's bankruptcies = this quarter's.", baseline_column="bankruptcies"
    ),
    "seasonal_naive": ModelSpec(
        "seasonal_naive",
        "Same quarter last year: the target is q+1, whose count a year earlier is q-3's.",
        baseline_column="bankruptcies_lag3",
    ),
    "glm": ModelSpec(
        "glm",
        "Poisson GLM (log link) on lagged log counts, rolling means, shares, published births; sector and "
        "season one-hot; L2 penalty tuned on the last quarters of the window.",
        grid=[{"alpha": a} for a in (0.001, 0.01, 0.1, 1.0)],
        build=_glm,
        design=_glm_frame,
    ),
    "xgboost": ModelSpec(
        "xgboost",
        "Gradient-boosted trees with a Poisson objective, pooled over sectors (sector, season as categories).",
        grid=[{"max_depth": d, "n_estimators": n, "learning_rate": 0.1} for d in (2, 3) for n in (40, 120)],
        build=_xgboost,
        design=_xgb_frame,
    ),
}
BASELINES: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.is_baseline)


@dataclass
class FittedModel:
    """A fitted count model with its tuning record; picklable, so joblib/MLflow can store it."""

    name: str
    params: dict[str, Any]
    train_rows: int
    train_quarters: tuple[str, str]
    validation_quarters: list[str]
    validation_mae: float
    tuning: list[dict[str, Any]]
    seed: int
    estimator: Any = None
    sector_means: dict[int, float] = field(default_factory=dict)
    scales: dict[int, float] = field(default_factory=dict)
    validation_residuals: list[tuple[int, float]] = field(default_factory=list)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predicted mean count (>= 0) per (sector, quarter)."""
        spec = MODELS[self.name]
        if spec.is_baseline:
            # Baselines fall back when their column is missing: the current count, then the training mean.
            pred = frame[spec.baseline_column].astype("float64")
            pred = pred.fillna(frame["bankruptcies"].astype("float64"))
            pred = pred.fillna(frame["sector"].map(self.sector_means)).to_numpy(dtype="float64")
        else:
            pred = np.asarray(self.estimator.predict(spec.design(frame)), dtype="float64")
        out = frame[["sector", "quarter"]].reset_index(drop=True).copy()
        out["prediction"] = np.maximum(pred, 0.0)
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description for run metadata."""
        return {
            "name": self.name, "params": self.params, "train_rows": self.train_rows,
            "train_quarters": list(self.train_quarters), "validation_quarters": self.validation_quarters,
            "validation_mae": self.validation_mae, "seed": self.seed,
        }


def mase_scales(rows: pd.DataFrame) -> dict[int, float]:
    """Per sector: mean |y_q - y_{q-4}| over the training rows (Hyndman–Koehler, seasonal period 4)."""
    diff = (rows["bankruptcies"] - rows["bankruptcies_lag4"]).abs()
    means = diff.groupby(rows["sector"]).mean().reindex(list(SECTOR_CODES))
    return {int(s): float(v) for s, v in means.fillna(MIN_SCALE).clip(lower=MIN_SCALE).items()}


def _fit_once(spec: ModelSpec, params: dict[str, Any], rows: pd.DataFrame, seed: int) -> FittedModel:
    """Fit one candidate on ``rows``."""
    estimator = None
    if not spec.is_baseline:
        from threadpoolctl import threadpool_limits

        estimator = spec.build(params, seed)
        # One BLAS thread: on ~500 x 30 matrices threads cost more than they give (10x slower on 2 busy cores).
        with threadpool_limits(limits=1):
            estimator.fit(spec.design(rows), rows[TARGET_COLUMN].to_numpy(dtype="float64"))
    means = rows.groupby("sector")[TARGET_COLUMN].mean()
    return FittedModel(
        name=spec.name, params=dict(params), train_rows=len(rows),
        train_quarters=(str(rows["quarter"].min()), str(rows["quarter"].max())),
        validation_quarters=[], validation_mae=float("nan"), tuning=[], seed=seed, estimator=estimator,
        sector_means={int(k): float(v) for k, v in means.items()},
    )


def _training_rows(train: pd.DataFrame) -> pd.DataFrame:
    """Rows usable for fitting: known target and current count, in a canonical order."""
    rows = train[train[TARGET_COLUMN].notna() & train["bankruptcies"].notna()]
    return rows.sort_values(["quarter", "sector"], kind="mergesort", ignore_index=True)


def fit_model(
    name: str, train: pd.DataFrame, seed: int = 0, validation_quarters: int = DEFAULT_VALIDATION_QUARTERS
) -> FittedModel:
    """Tune on the window's last quarters (time-ordered), keep their residuals, refit on the window."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    spec = MODELS[name]
    rows = _training_rows(train)
    quarters = sorted(rows["quarter"].unique())
    if len(quarters) < 2:
        raise ValueError(f"{name}: need targets in at least 2 quarters to tune, got {quarters}")
    scales = mase_scales(rows)
    k = min(validation_quarters, max(1, len(quarters) // 4))
    val_q = quarters[-k:]
    fit_part, val_part = rows[rows["quarter"] < val_q[0]], rows[rows["quarter"] >= val_q[0]]
    actual = val_part[TARGET_COLUMN].to_numpy(dtype="float64")
    scale = val_part["sector"].map(scales).to_numpy(dtype="float64")
    tuning, best, best_pred = [], None, None
    for params in spec.grid:
        pred = _fit_once(spec, params, fit_part, seed).predict(val_part)["prediction"].to_numpy()
        scaled_mae = float(np.mean(np.abs(actual - pred) / scale))
        tuning.append({"params": dict(params), "validation_mae": scaled_mae})
        if best is None or scaled_mae < best["validation_mae"]:  # ties keep the earlier (simpler) candidate
            best, best_pred = tuning[-1], pred
    model = _fit_once(spec, best["params"], rows, seed)
    model.scales = scales
    model.validation_quarters = [str(q) for q in val_q]
    model.validation_mae = best["validation_mae"]
    model.tuning = tuning
    residuals = pearson_residual(actual, best_pred)
    model.validation_residuals = [
        (int(s), float(r)) for s, r in zip(val_part["sector"], residuals, strict=True)
    ]
    return model


def rolling_origin_fit(
    name: str, features: pd.DataFrame, origin: str, seed: int = 0
) -> tuple[FittedModel, pd.DataFrame]:
    """Fit on everything known at ``origin`` and forecast origin+1 from the rows of quarter == origin.

    Training rows are quarter <= origin-1: their targets (counts up to origin) are known at origin. The rows
    of quarter == origin are only forecast inputs, never training data.
    """
    train = features[features["quarter"] <= quarter_offset(origin, -1)]
    current = features[features["quarter"] == origin].sort_values("sector", ignore_index=True)
    if current.empty:
        raise ValueError(f"no feature rows for origin {origin}")
    model = fit_model(name, train, seed=seed)
    pred = model.predict(current)
    pred["model"] = name
    pred["origin"] = origin
    pred["target_quarter"] = quarter_offset(origin, 1)
    pred["actual"] = current[TARGET_COLUMN].astype("float64").to_numpy()
    pred["current"] = current["bankruptcies"].astype("float64").to_numpy()
    pred["scale"] = pred["sector"].map(model.scales).astype("float64")
    return model, pred[BACKTEST_COLUMNS]


def validation_frame(model: FittedModel, origin: str) -> pd.DataFrame:
    """The fit's validation residuals as rows (model, origin, sector, residual) for calibration."""
    rows = pd.DataFrame(model.validation_residuals, columns=["sector", "residual"])
    return rows.assign(model=model.name, origin=origin)[["model", "origin", "sector", "residual"]]


def backtest(
    features: pd.DataFrame, origins: list[str], names: list[str] | None = None, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin predictions and validation residuals of several models (for tests and benchmarks)."""
    preds, vals = [], []
    for name in names or list(MODELS):
        for origin in origins:
            model, pred = rolling_origin_fit(name, features, origin, seed=seed)
            preds.append(pred)
            vals.append(validation_frame(model, origin))
    return pd.concat(preds, ignore_index=True), pd.concat(vals, ignore_index=True)
