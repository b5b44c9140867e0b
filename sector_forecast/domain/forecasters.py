"""Count models for next-quarter bankruptcies per sector, behind one interface.

Every model predicts the mean count μ of the target quarter from what is known at the origin. Two rules make a
fit the same however a run is batched (issue 19): the **training window** is the domain's — the
``TRAIN_WINDOW_QUARTERS`` quarters before the origin, whatever rows the caller hands over — and **tuning is
nested** in it (``domain.tuning``: rolling-origin cross-validation over the window's last quarters, scored by
the scale-free MAE), then the winner is refitted on the whole window. The cross-validation residuals are kept
as the earliest origins' interval calibration (``calibration.calibrate_backtest`` prefers graded backtest
residuals once they exist). A fit for origin q sees targets up to q only (rows of quarter <= q-1, whose target
is a count of <= q). Baselines (``domain.baselines``) are not tuned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sector_forecast.domain import baselines
from sector_forecast.domain.calibration import pearson_residual
from sector_forecast.domain.estimators import glm, glm_design, glm_seasonal, seasonal_design, xgboost, xgboost_design
from sector_forecast.domain.features import TARGET_COLUMN
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.domain.sectors import SECTOR_CODES
from sector_forecast.domain.tuning import CV_FOLD_QUARTERS, cross_validate, fit_estimator

BACKTEST_COLUMNS: list[str] = [
    "model", "sector", "origin", "target_quarter", "prediction", "actual", "current", "scale",
]
TRAIN_WINDOW_QUARTERS = 40  # ten years: long enough for seasonality and a cycle, short enough to follow change
MIN_SCALE = 1.0  # a sector whose count never moved year on year still has a scale of one bankruptcy
BASELINE, CHALLENGER = "baseline", "challenger"


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model: a rule/series baseline, or an estimator factory, its design and tuning grid."""

    name: str
    description: str
    role: str
    kind: str  # "rule" (a count column), "series" (per-sector time series), "regression" (pooled estimator)
    grid: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    build: Callable[[dict[str, Any], int], Any] | None = None
    design: Callable[[pd.DataFrame], pd.DataFrame] | None = None


MODELS: dict[str, ModelSpec] = {
    "naive": ModelSpec("naive", "Persistence: next quarter's bankruptcies = this quarter's.", BASELINE, "rule"),
    "seasonal_naive": ModelSpec(
        "seasonal_naive", "Same quarter last year: the target is q+1, whose count a year earlier is q-3's.",
        BASELINE, "rule"),
    "mean_4q": ModelSpec("mean_4q", "Recent mean: the mean count of the last four quarters.", BASELINE, "rule"),
    "theta": ModelSpec(
        "theta", "Automatic Theta per sector (statsforecast AutoTheta: seasonality test, best of four variants) "
        "on the window's quarterly counts.", BASELINE, "series"),
    "glm": ModelSpec(
        "glm", "Poisson GLM (log link) on lagged log counts, rolling means and shares; sector and season one-hot; "
        "L2 penalty chosen by 8-quarter rolling cross-validation inside the window.", CHALLENGER, "regression",
        # Most regularised first: a tie keeps the larger penalty, so the chosen path moves only on evidence.
        grid=[{"alpha": a} for a in (1.0, 0.1, 0.01)], build=glm, design=glm_design),
    "glm_seasonal": ModelSpec(
        "glm_seasonal", "Poisson GLM with a level and a seasonal profile per sector (sector x quarter-of-year "
        "one-hot) plus recent log counts; penalty by the same cross-validation.", CHALLENGER, "regression",
        grid=[{"alpha": a} for a in (1.0, 0.1, 0.01)], build=glm_seasonal, design=seasonal_design),
    "xgboost": ModelSpec(
        "xgboost", "Gradient-boosted trees with a Poisson objective, pooled over sectors (sector, season as "
        "categories); fixed conventional settings (depth 2, 100 trees, learning rate 0.1), not tuned.",
        CHALLENGER, "regression", grid=[{"max_depth": 2, "n_estimators": 100, "learning_rate": 0.1}],
        build=xgboost, design=xgboost_design),
}
BASELINES: tuple[str, ...] = tuple(n for n, s in MODELS.items() if s.role == BASELINE)
CHALLENGERS: tuple[str, ...] = tuple(n for n, s in MODELS.items() if s.role == CHALLENGER)


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
    scales: dict[int, float] = field(default_factory=dict)
    validation_residuals: list[tuple[int, float]] = field(default_factory=list)
    missing: dict[int, str] = field(default_factory=dict)  # sector -> why this origin has no forecast for it

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Predicted mean count (>= 0, NaN where a rule baseline's input is unknown) per (sector, quarter)."""
        spec = MODELS[self.name]
        if spec.kind == "series":
            raise ValueError(f"{self.name} forecasts from each sector's series: use rolling_origin_fit")
        if spec.kind == "rule":
            pred, _ = baselines.rule_forecast(self.name, frame)
        else:
            pred = np.asarray(self.estimator.predict(spec.design(frame)), dtype="float64")
        out = frame[["sector", "quarter"]].reset_index(drop=True).copy()
        out["prediction"] = np.where(np.isfinite(pred), np.maximum(pred, 0.0), np.nan)
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable description for run metadata."""
        return {
            "name": self.name, "params": self.params, "train_rows": self.train_rows,
            "train_quarters": list(self.train_quarters), "validation_quarters": self.validation_quarters,
            "validation_mae": self.validation_mae, "seed": self.seed,
            "missing": {str(k): v for k, v in self.missing.items()},
        }


def mase_scales(rows: pd.DataFrame) -> dict[int, float]:
    """Per sector: mean |y_q - y_{q-4}| over the training rows (Hyndman–Koehler, seasonal period 4)."""
    diff = (rows["bankruptcies"] - rows["bankruptcies_lag4"]).abs()
    means = diff.groupby(rows["sector"]).mean().reindex(list(SECTOR_CODES))
    return {int(s): float(v) for s, v in means.fillna(MIN_SCALE).clip(lower=MIN_SCALE).items()}


def training_window(features: pd.DataFrame, origin: str, horizon: int = 1) -> pd.DataFrame:
    """Usable training rows for ``origin``: quarters origin-TRAIN_WINDOW_QUARTERS .. origin-horizon, known target.

    A row of quarter q targets q+horizon, published by the origin only when q <= origin-horizon: the same
    40-quarter window, cut where a horizon's targets stop being known (``features`` re-targeted by
    ``features.horizon_frame``).
    """
    first, last = quarter_offset(origin, -TRAIN_WINDOW_QUARTERS), quarter_offset(origin, -horizon)
    q = features["quarter"].astype(str)
    rows = features[(q >= first) & (q <= last) & features[TARGET_COLUMN].notna() & features["bankruptcies"].notna()]
    return rows.sort_values(["quarter", "sector"], kind="mergesort", ignore_index=True)


def fit_model(
    name: str, train: pd.DataFrame, seed: int = 0, horizon: int = 1,
    params: dict[str, Any] | None = None, scales: dict[int, float] | None = None,
) -> FittedModel:
    """Tune by rolling CV inside ``train`` (already the window), keep the CV residuals, refit on all of it.

    ``params`` fixes the hyper-parameters (CV then only yields validation residuals) and ``scales`` the MASE
    scales: horizons > 1 reuse the one-step fit's (see ``domain.horizons``).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    spec = MODELS[name]
    if spec.kind == "series":
        raise ValueError(f"{name} forecasts from each sector's series: use rolling_origin_fit")
    rows = train[train[TARGET_COLUMN].notna() & train["bankruptcies"].notna()]
    rows = rows.sort_values(["quarter", "sector"], kind="mergesort", ignore_index=True)
    quarters = sorted(rows["quarter"].unique())
    if len(quarters) < 2:
        raise ValueError(f"{name}: need targets in at least 2 quarters to tune, got {quarters}")
    scales = mase_scales(rows) if scales is None else scales
    grid = spec.grid if params is None else [params]
    design = None if spec.kind == "rule" else spec.design(rows)  # once: the tuning slices it, the refit uses it
    tuning, best, cv, cv_quarters = cross_validate(spec, rows, scales, seed, grid, horizon, design)
    estimator = None if design is None else fit_estimator(spec, best["params"], rows, seed, design)
    graded = cv.dropna(subset=["prediction"])
    residuals = pearson_residual(graded[TARGET_COLUMN].to_numpy(float), graded["prediction"].to_numpy(float))
    return FittedModel(
        name=name, params=dict(best["params"]), train_rows=len(rows),
        train_quarters=(str(quarters[0]), str(quarters[-1])), validation_quarters=[str(q) for q in cv_quarters],
        validation_mae=best["validation_mae"], tuning=tuning, seed=seed, estimator=estimator, scales=scales,
        validation_residuals=[(int(s), float(r)) for s, r in zip(graded["sector"], residuals, strict=True)],
    )


def fit_series(
    name: str, train: pd.DataFrame, current: pd.DataFrame, seed: int, steps: int = 1
) -> tuple[FittedModel, np.ndarray]:
    """Theta per sector on the window's counts up to the origin: (model, forecasts sectors × ``steps``).

    Validation = the last in-sample one-step errors: slightly optimistic (parameters fitted on the same window),
    and for horizons > 1 more so; they only calibrate the first origins, until graded residuals exist.
    """
    series = baselines.sector_series(train, current)
    scales = mase_scales(train)
    preds, variants, missing, residuals, scaled = [], {}, {}, [], []
    for sector in current["sector"].astype(int):
        y = series.get(int(sector), np.array([]))
        means, fitted, variant, reason = baselines.theta_forecast(y, steps)
        preds.append(means)
        if reason:
            missing[int(sector)] = reason
            continue
        variants[str(sector)] = variant
        tail = slice(-CV_FOLD_QUARTERS, None)
        residuals += [(int(sector), float(r)) for r in pearson_residual(y[tail], fitted[tail]) if np.isfinite(r)]
        scaled += list(np.abs(y[tail] - fitted[tail]) / scales[int(sector)])
    quarters = sorted(train["quarter"].unique())
    model = FittedModel(
        name=name, params={"variant_by_sector": variants}, train_rows=len(train),
        train_quarters=(str(quarters[0]), str(quarters[-1])) if quarters else ("", ""), validation_quarters=[],
        validation_mae=float(np.nanmean(scaled)) if scaled else float("nan"), tuning=[], seed=seed, scales=scales,
        validation_residuals=residuals, missing=missing,
    )
    return model, np.asarray(preds, dtype="float64").reshape(len(current), steps)


def origin_rows(features: pd.DataFrame, origin: str) -> pd.DataFrame:
    """The feature rows of quarter == ``origin`` (the forecast inputs), one per sector."""
    current = features[features["quarter"] == origin].sort_values("sector", ignore_index=True)
    if current.empty:
        raise ValueError(f"no feature rows for origin {origin}")
    return current


def prediction_rows(
    model: FittedModel, current: pd.DataFrame, values: np.ndarray, origin: str, horizon: int = 1
) -> pd.DataFrame:
    """The backtest rows of one fit: ``values`` forecast ``horizon`` quarters after ``origin`` per sector.

    ``actual`` is the rows' ``target`` (NaN where the frame does not hold it: the caller grades it later).
    """
    pred = current[["sector", "quarter"]].assign(prediction=values)
    pred["model"] = model.name
    pred["origin"] = origin
    pred["target_quarter"] = quarter_offset(origin, horizon)
    pred["actual"] = current[TARGET_COLUMN].astype("float64").to_numpy()
    pred["current"] = current["bankruptcies"].astype("float64").to_numpy()
    pred["scale"] = pred["sector"].map(model.scales).astype("float64")
    return pred[BACKTEST_COLUMNS]


def table_fit(name: str, train: pd.DataFrame, current: pd.DataFrame, seed: int = 0, **fixed: Any) -> FittedModel:
    """``fit_model`` plus, for a rule baseline, why a sector has no forecast at the origin."""
    model = fit_model(name, train, seed=seed, **fixed)
    if MODELS[name].kind == "rule":
        _, reasons = baselines.rule_forecast(name, current)
        model.missing = {int(s): r for s, r in zip(current["sector"], reasons, strict=True) if r}
    return model


def rolling_origin_fit(
    name: str, features: pd.DataFrame, origin: str, seed: int = 0
) -> tuple[FittedModel, pd.DataFrame]:
    """Fit on the window known at ``origin`` and forecast origin+1 from the rows of quarter == origin.

    Training rows are quarters origin-TRAIN_WINDOW_QUARTERS .. origin-1 (their targets, counts up to origin,
    are known at origin), whatever else ``features`` holds: the same origin gives the same fit whether it is
    materialised alone or in a range. The rows of quarter == origin are only forecast inputs. Horizons 2–4:
    ``domain.horizons.fit_horizons``.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    train = training_window(features, origin)
    current = origin_rows(features, origin)
    if MODELS[name].kind == "series":
        model, values = fit_series(name, train, current, seed)
        return model, prediction_rows(model, current, values[:, 0], origin)
    model = table_fit(name, train, current, seed)
    return model, prediction_rows(model, current, model.predict(current)["prediction"].to_numpy(), origin)


def validation_frame(model: FittedModel, origin: str) -> pd.DataFrame:
    """The fit's validation residuals as rows (model, origin, sector, residual) for calibration."""
    rows = pd.DataFrame(model.validation_residuals, columns=["sector", "residual"])
    return rows.assign(model=model.name, origin=origin)[["model", "origin", "sector", "residual"]]

