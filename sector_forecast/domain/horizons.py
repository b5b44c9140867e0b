"""Forecasts 1–4 quarters ahead from every origin (issue 24): direct models, graded and calibrated per horizon.

**Direct, not recursive.** Each horizon h has its own fit: the origin's features, the target h quarters later
(``features.horizon_frame``), trained only on rows whose target was published by the origin (quarters <=
origin−h of the same 40-quarter window). A recursive forecast would feed the model's own one-step means back
as lags: the challengers' features (rolling means, growth, shares across sectors) would need every sector's
path simulated, their errors compound through a nonlinear link, and the baselines would stop being the rules a
forecaster knows. Direct keeps each horizon's fit as honest and as simple as the one-step fit, at the price of
one fit per horizon. Theta is the exception: it is a time-series model, so one fit gives its own multi-step path.

**Cost.** Horizon 1 is fitted exactly as before (tuning by nested cross-validation). Horizons 2–4 reuse the
one-step fit's chosen hyper-parameters and MASE scales at the same origin: the penalty is a property of the
design and window, re-tuning it per horizon would triple the fits for a choice among three penalties, and one
scale per origin keeps the horizons' MASEs comparable. Their cross-validation still runs once, with that
penalty, to give each horizon its own validation residuals (the first origins' interval fallback).

**Grading.** A horizon-h forecast from origin o targets o+h. Its actual is the published count of o+h from
the panel (``attach_actuals``); its interval is calibrated only with residuals at the same horizon whose
target quarter <= o — an h-step error is known h quarters after its origin (``calibration.calibrate_backtest``
already cuts at target <= origin), and the gate's Diebold–Mariano test counts h−1 autocovariances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sector_forecast.domain import forecasters, gate, metrics
from sector_forecast.domain.features import HORIZONS, horizon_frame

HORIZON_COLUMN = "horizon"


def horizon_frames(features: pd.DataFrame, horizons: tuple[int, ...] = HORIZONS) -> dict[int, pd.DataFrame]:
    """``features`` re-targeted at each horizon: built once for all the origins a run fits (it costs ~0.05 s)."""
    return {h: horizon_frame(features, h) for h in horizons}


def horizon_fits(
    name: str, features: pd.DataFrame, origin: str, seed: int = 0, horizons: tuple[int, ...] = HORIZONS,
    frames: dict[int, pd.DataFrame] | None = None,
) -> dict[int, tuple[forecasters.FittedModel, pd.DataFrame, np.ndarray]]:
    """Per horizon: (the model that forecasts it, the origin's rows it reads, its predictions) of ``name``.

    A table model is one direct fit per horizon (horizons 2–4 reuse the horizon-1 penalty and MASE scales of the
    same origin: tuning them apart would quadruple the cross-validation for little); a series model (Theta) is one
    fit whose multi-step path gives every horizon. ``frames`` (from ``horizon_frames(features)``) saves rebuilding
    them per model and origin.
    """
    frames = frames or horizon_frames(features, horizons)
    if name not in forecasters.MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(forecasters.MODELS)}")
    if not horizons or horizons[0] != 1 or any(h not in HORIZONS for h in horizons):
        raise ValueError(f"horizons must start at 1 and lie in {HORIZONS}, got {horizons}")
    train = forecasters.training_window(features, origin)
    current = forecasters.origin_rows(features, origin)
    if forecasters.MODELS[name].kind == "series":
        model, paths = forecasters.fit_series(name, train, current, seed, steps=max(horizons))
        return {h: (model, forecasters.origin_rows(frames[h], origin), paths[:, h - 1]) for h in horizons}
    model = forecasters.table_fit(name, train, current, seed)
    fits = {1: (model, current, model.predict(current)["prediction"].to_numpy())}
    for h in horizons[1:]:
        rows = forecasters.origin_rows(frames[h], origin)
        fitted = forecasters.table_fit(name, forecasters.training_window(frames[h], origin, h), rows, seed,
                                       horizon=h, params=model.params, scales=model.scales)
        fits[h] = (fitted, rows, fitted.predict(rows)["prediction"].to_numpy())
    return fits


def fit_horizons(
    name: str, features: pd.DataFrame, origin: str, seed: int = 0, horizons: tuple[int, ...] = HORIZONS,
    frames: dict[int, pd.DataFrame] | None = None,
) -> tuple[forecasters.FittedModel, pd.DataFrame, pd.DataFrame]:
    """(one-step model, predictions, validation residuals) of ``name`` at ``origin`` for every horizon.

    Rows carry a ``horizon`` column; the horizon-1 rows equal ``forecasters.rolling_origin_fit`` exactly.
    """
    fits = horizon_fits(name, features, origin, seed, horizons, frames)
    preds = [forecasters.prediction_rows(m, rows, values, origin, h).assign(horizon=h)
             for h, (m, rows, values) in fits.items()]
    validation = [forecasters.validation_frame(m, origin).assign(horizon=h) for h, (m, _, _) in fits.items()]
    return fits[1][0], pd.concat(preds, ignore_index=True), pd.concat(validation, ignore_index=True)


def backtest(
    features: pd.DataFrame, origins: list[str], names: list[str] | None = None, seed: int = 0,
    horizons: tuple[int, ...] = HORIZONS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin predictions and validation residuals of several models at every horizon (tests, benchmarks)."""
    preds, vals, frames = [], [], horizon_frames(features, horizons)
    for name in names or list(forecasters.MODELS):
        for origin in origins:
            _, pred, val = fit_horizons(name, features, origin, seed=seed, horizons=horizons, frames=frames)
            preds.append(pred)
            vals.append(val)
    return pd.concat(preds, ignore_index=True), pd.concat(vals, ignore_index=True)


def attach_actuals(predictions: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Horizon > 1 rows graded against the panel's published count of their target quarter (NaN until then).

    A fit only holds the feature rows up to its origin, so it cannot know a count h quarters later; the
    panel can, once DST has published it. Horizon-1 rows keep the actual their feature row carried.
    """
    counts = panel.assign(sector=panel["sector"].astype("int64"), quarter=panel["quarter"].astype(str))
    counts = counts.drop_duplicates(["sector", "quarter"]).set_index(["sector", "quarter"])["bankruptcies"]
    later = predictions[HORIZON_COLUMN].to_numpy() > 1
    keys = pd.MultiIndex.from_arrays([predictions["sector"].astype("int64"),
                                      predictions["target_quarter"].astype(str)])
    published = pd.to_numeric(counts.reindex(keys), errors="coerce").astype("float64").to_numpy()
    out = predictions.copy()
    out["actual"] = np.where(later, published, out["actual"].to_numpy(dtype="float64"))
    return out


def split(frame: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Rows per horizon (a frame without a horizon column is all horizon 1), index reset."""
    if HORIZON_COLUMN not in frame.columns:
        return {1: frame.reset_index(drop=True)}
    return {int(h): g.reset_index(drop=True) for h, g in frame.groupby(HORIZON_COLUMN, sort=True)}


def one_step(frame: pd.DataFrame) -> pd.DataFrame:
    """The horizon-1 rows, without the horizon column: today's one-step frames, unchanged for their readers."""
    return split(frame).get(1, frame.iloc[0:0]).drop(columns=HORIZON_COLUMN, errors="ignore")


def leaderboards(calibrated: pd.DataFrame, target: str = "bankruptcies") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``metrics.leaderboard`` per horizon: (overall, per_sector), each with a ``horizon`` column first."""
    overall, per_sector = [], []
    for h, rows in split(calibrated).items():
        board, sectors = metrics.leaderboard(rows, target=target)
        overall.append(board.assign(horizon=h))
        per_sector.append(sectors.assign(horizon=h))
    first = [HORIZON_COLUMN]
    return tuple(pd.concat(frames, ignore_index=True).pipe(lambda f: f[first + [c for c in f if c not in first]])
                 for frames in (overall, per_sector))


def gates(
    calibrated: pd.DataFrame, baselines: tuple[str, ...] = forecasters.BASELINES, alpha: float = 0.10
) -> dict[int, gate.GateDecision]:
    """The promotion gate at each horizon: DM/HLN with h−1 autocovariances against that horizon's best baseline."""
    return {h: gate.promotion_gate(rows, baselines, alpha=alpha, horizon=h) for h, rows in split(calibrated).items()}
