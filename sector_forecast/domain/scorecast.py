"""Score forecasts derived from the bankruptcy forecasts, origin by origin, as DST had published at each.

The score of the target quarter is never modelled directly: for each (model, origin) the model's calibrated
bankruptcy forecast and a births nowcast — both only from data published on the origin's date — are pushed
through the score's definition by simulation (``scoresim.simulate_scores``), so the score's interval carries
both uncertainties. An origin before DEMO14's first publication (mid-2021) has no births to nowcast from:
no score forecast, stated as a missing row rather than an invented one.
"""

from __future__ import annotations

import pandas as pd

from sector_forecast.domain.calibration import residual_pools
from sector_forecast.domain.metrics import score_scale
from sector_forecast.domain.periods import quarter_year
from sector_forecast.domain.realtime import births_nowcast, births_vintage, origin_date, published_births, vintage_as_of
from sector_forecast.domain.scoresim import OriginInputs, origin_inputs, simulate_origin, simulate_scores

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
    return simulate_scores(origin, mu, residuals, panel[panel["quarter"] <= origin], vintage, N_DRAWS, seed)


def _origin_inputs(origin: str, panel: pd.DataFrame, published: pd.DataFrame) -> OriginInputs | None:
    """The simulation's inputs at ``origin`` (``published`` = ``published_births(panel)``); None before DEMO14."""
    vintage = vintage_as_of(published, origin_date(origin))
    if vintage.empty:
        return None
    return origin_inputs(origin, panel[panel["quarter"] <= origin], vintage)


def score_backtest(
    calibrated: pd.DataFrame, panel: pd.DataFrame, validation: pd.DataFrame | None = None, seed: int = 0
) -> pd.DataFrame:
    """Every model's score forecast at every origin, graded against the published score where it exists.

    ``actual`` is the panel's score of the target quarter: set only where DST has published that year's
    births (the panel never scores a nowcast), so no graded target contains our own output. What depends on
    the origin alone (vintage, nowcasts, history, scale) is derived once per origin and shared by the models.
    """
    actual = panel.set_index(["sector", "quarter"])["score"]
    published, pool = published_births(panel), residual_pools(calibrated, validation)
    frames, inputs, scales = [], {}, {}
    for (model, origin), rows in calibrated.groupby(["model", "origin"], sort=True):
        if origin not in inputs:
            inputs[origin] = _origin_inputs(origin, panel, published)
        if inputs[origin] is None:
            continue
        mu = dict(zip(rows["sector"].astype(int), rows["prediction"].astype(float), strict=True))
        sims = simulate_origin(inputs[origin], mu, pool(model, origin), N_DRAWS, seed).rename(columns={
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
