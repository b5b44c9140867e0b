"""Score forecasts derived from the bankruptcy forecasts, origin by origin, as DST had published at each.

The score of the target quarter is never modelled directly: for each (model, origin) the model's calibrated
bankruptcy forecast and a births nowcast — both only from data published on the origin's date — are pushed
through the score's definition by simulation (``scoresim.simulate_scores``), so the score's interval carries
both uncertainties. An origin before DEMO14's first publication (mid-2021) has no births to nowcast from:
no score forecast, stated as a missing row rather than an invented one.
"""

from __future__ import annotations

import pandas as pd

from sector_forecast.domain.calibration import residual_pool
from sector_forecast.domain.metrics import score_scale
from sector_forecast.domain.periods import quarter_year
from sector_forecast.domain.realtime import births_nowcast, births_vintage, origin_date
from sector_forecast.domain.scoresim import simulate_scores

SCORE_COLUMNS: list[str] = [
    "model", "sector", "origin", "target_quarter", "prediction", "lower80", "upper80", "lower95", "upper95",
    "actual", "scale", "births_basis",
]
N_DRAWS = 2000


def score_forecast(
    origin: str, mu: dict[int, float], residuals: dict, panel: pd.DataFrame, seed: int = 0
) -> pd.DataFrame:
    """One origin's score forecast per sector (empty when no DEMO14 year was published by the origin)."""
    vintage = births_vintage(panel, origin_date(origin))
    if vintage.empty:
        return pd.DataFrame()
    history = panel[panel["quarter"] <= origin]
    return simulate_scores(origin, mu, residuals, history, vintage, n_draws=N_DRAWS, seed=seed)


def score_backtest(
    calibrated: pd.DataFrame, panel: pd.DataFrame, validation: pd.DataFrame | None = None, seed: int = 0
) -> pd.DataFrame:
    """Every model's score forecast at every origin, graded against the published score where it exists.

    ``actual`` is the panel's score of the target quarter: set only where DST has published that year's
    births (the panel never scores a nowcast), so no graded target contains our own output.
    """
    actual = panel.set_index(["sector", "quarter"])["score"]
    frames, scales = [], {}
    for (model, origin), rows in calibrated.groupby(["model", "origin"], sort=True):
        mu = dict(zip(rows["sector"].astype(int), rows["prediction"].astype(float), strict=True))
        sims = score_forecast(origin, mu, residual_pool(calibrated, model, origin, validation), panel, seed=seed)
        if sims.empty:
            continue
        sims = sims.rename(columns={
            "score_prediction": "prediction", "score_lower80": "lower80", "score_upper80": "upper80",
            "score_lower95": "lower95", "score_upper95": "upper95",
        })
        keys = pd.MultiIndex.from_arrays([sims["sector"], sims["target_quarter"]])
        if origin not in scales:  # one scale per origin, shared by the models
            scales[origin] = score_scale(panel, origin)
        scale = scales[origin].reindex(sims["sector"]).to_numpy()
        frames.append(sims.assign(model=model, origin=origin, actual=actual.reindex(keys).to_numpy(), scale=scale))
    if not frames:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS]


def births_at_origin(panel: pd.DataFrame, origin: str, target: str) -> pd.DataFrame:
    """The target year's births as known at the origin: published, or a nowcast with its log-sd."""
    vintage = births_vintage(panel, origin_date(origin))
    year = quarter_year(target)
    published = vintage[vintage["year"] == year]
    if len(published):
        return pd.DataFrame({"sector": published["sector"], "births_nowcast": published["births_annual"] / 4.0,
                             "births_log_sd": 0.0})
    now = births_nowcast(vintage, year)
    return pd.DataFrame({"sector": now["sector"], "births_nowcast": now["nowcast_annual"] / 4.0,
                         "births_log_sd": now["log_sd"]})
