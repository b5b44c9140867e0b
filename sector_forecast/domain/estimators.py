"""The challengers' estimators and design matrices (scikit-learn and XGBoost), built per fit.

scikit-learn and xgboost are imported inside the builders, not at module level: the code location imports the
model catalogue to define its assets, and every run worker and code server would otherwise pay ~2 s for libraries
only a fit uses (benchmarks/speed.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from sector_forecast.domain.features import CATEGORICAL_FEATURES, MODEL_FEATURES
from sector_forecast.domain.sectors import SECTOR_CODES

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline
    from xgboost import XGBRegressor

NUMERIC = [c for c in MODEL_FEATURES if c not in CATEGORICAL_FEATURES]
# The seasonal GLM: a level and a seasonal profile per sector, plus the recent log counts.
SEASONAL_NUMERIC = ["log_lag0", "log_lag1", "log_mean_4q", "log_mean_8q", "growth_yoy"]
SECTOR_SEASONS = [s * 10 + q for s in SECTOR_CODES for q in (1, 2, 3, 4)]


def _numeric(columns: list[str]) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Median imputation only fills the first quarters' lags and rolling statistics (short history), fitted on the
    # training rows; keep_empty_features keeps the design's width fixed when a window has a column all-NaN.
    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())


def _poisson(prep: Any, alpha: float) -> Pipeline:
    """``solver="newton-cholesky"`` instead of scikit-learn's lbfgs: with ~50 columns Newton converges in ~6
    iterations where lbfgs needs ~300 (measured: 0.05 s vs 12 s a fit), to the same optimum."""
    from sklearn.linear_model import PoissonRegressor
    from sklearn.pipeline import Pipeline

    return Pipeline([("prep", prep), ("glm", PoissonRegressor(alpha=alpha, solver="newton-cholesky"))])


def glm(params: dict[str, Any], seed: int) -> Pipeline:
    """Poisson GLM (log link): median-impute + scale the numeric features, one-hot sector and season."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    cats = OneHotEncoder(categories=[list(SECTOR_CODES), [1, 2, 3, 4]], handle_unknown="ignore", sparse_output=False)
    prep = ColumnTransformer([("num", _numeric(NUMERIC), NUMERIC), ("cat", cats, CATEGORICAL_FEATURES)])
    return _poisson(prep, params["alpha"])


def glm_design(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[MODEL_FEATURES].astype({c: "int64" for c in CATEGORICAL_FEATURES})


def glm_seasonal(params: dict[str, Any], seed: int) -> Pipeline:
    """Poisson GLM with sector and sector x quarter-of-year one-hot (a level and a season per sector)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    cats = OneHotEncoder(categories=[list(SECTOR_CODES), SECTOR_SEASONS], handle_unknown="ignore",
                         sparse_output=False)
    prep = ColumnTransformer([("num", _numeric(SEASONAL_NUMERIC), SEASONAL_NUMERIC),
                              ("cat", cats, ["sector", "sector_season"])])
    return _poisson(prep, params["alpha"])


def seasonal_design(frame: pd.DataFrame) -> pd.DataFrame:
    x = frame[["sector", *SEASONAL_NUMERIC]].copy()
    x["sector"] = x["sector"].astype("int64")
    x["sector_season"] = x["sector"] * 10 + frame["quarter_of_year"].astype("int64")
    return x


def xgboost(params: dict[str, Any], seed: int) -> XGBRegressor:
    """Small trees with a Poisson objective; single-threaded and seeded so refits are bit-identical."""
    from xgboost import XGBRegressor

    return XGBRegressor(
        **params, objective="count:poisson", tree_method="hist", enable_categorical=True, n_jobs=1,
        random_state=seed, verbosity=0,
    )


def xgboost_design(frame: pd.DataFrame) -> pd.DataFrame:
    """Sector and season as pandas categories with fixed levels, so codes mean the same in every fit."""
    x = frame[MODEL_FEATURES].copy()
    x["sector"] = pd.Categorical(x["sector"].astype("int64"), categories=list(SECTOR_CODES))
    x["quarter_of_year"] = pd.Categorical(x["quarter_of_year"].astype("int64"), categories=[1, 2, 3, 4])
    return x.astype({c: "float64" for c in NUMERIC})
