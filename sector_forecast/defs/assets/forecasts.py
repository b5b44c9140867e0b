"""Forecasts from the registered champion: bankruptcies with calibrated intervals, the score, and why they moved.

The bankruptcy forecast comes from `sector-vitality@champion` itself (the registry serves what the UI shows);
the score forecast is derived from it by simulation together with the births nowcast, so its interval
carries both uncertainties (`domain.scorecast`), for the horizons whose births can be nowcast honestly
(`domain.scoreahead`). Why each forecast moved since the previous origin is the registered model's own `why`
(asked with `explain`): `champion_model` refits the champion at both origins (`domain.explain`) when it registers.
"""

import base64

import dagster as dg
import pandas as pd

from sector_forecast.contracts import forecasting as contracts
from sector_forecast.defs.assets.evaluation import ALL_PRESENT, newest
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.metadata import frame_metadata, markdown_table
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.domain import calibration, scoreahead, scorecast
from sector_forecast.domain.features import HORIZONS
from sector_forecast.domain.periods import quarter_index, quarter_offset
from sector_forecast.domain.sectors import SECTORS
from sector_forecast.reports import plots
from sector_forecast.tracking import runs as tracking
from sector_forecast.tracking.service import champion_name

FORECASTS_GROUP = "forecasts"
_SCORE_COLUMNS = [f"score_{c}" for c in ("prediction", "lower80", "upper80", "lower95", "upper95")]


def _interval_frame(result: pd.DataFrame) -> pd.DataFrame:
    """Sector × horizon: the point forecast and its 80% and 95% intervals, one readable row each."""
    span = {level: result[f"lower{level}"].round(1).astype(str) + "–" + result[f"upper{level}"].round(1).astype(str)
            for level in (80, 95)}
    return pd.DataFrame({"sector": result["sector"], "name": result["sector_name"], "horizon": result["horizon"],
                         "quarter": result["quarter"], "point": result["prediction"], "80%": span[80],
                         "95%": span[95]}).sort_values(["sector", "horizon"], ignore_index=True)


def _score_markdown(reach: pd.DataFrame, result: pd.DataFrame) -> str:
    """Per horizon the score's status in one sentence; the derived horizons' scores per sector below it."""
    lines = [f"- **{r.target_quarter}** ({r.horizon} ahead): {r.why}" for r in reach.itertuples()]
    derived = result[result["horizon"].isin(reach.loc[reach["derived"], "horizon"])]
    text = "Sector Vitality Score by horizon:\n\n" + "\n".join(lines)
    if len(derived):
        cols = ["sector", "name", "horizon", "quarter", *_SCORE_COLUMNS, "births_basis"]
        table = derived.rename(columns={"sector_name": "name"})[cols]
        text += "\n\n" + markdown_table(table, max_rows=40)
    return text


def _why(champion: str, origin: str, result: pd.DataFrame) -> str:
    """The page's markdown of what moved each forecast, as the registered model explains it (`explain`)."""
    head = (f"What moved each {champion} forecast from origin {quarter_offset(origin, -1)} to {origin}, per horizon: "
            "the largest parts on the log scale of the forecast mean (`refit`: re-estimation on one more quarter), "
            "or a baseline's rule and how its input moved — registered with the champion version "
            "(`domain/explain.py`; served with the `explain` parameter).")
    shown = result.rename(columns={"sector_name": "name"})[["sector", "name", "horizon", "why"]]
    return head + "\n\n" + markdown_table(shown.sort_values(["sector", "horizon"]), max_rows=40)


@dg.asset(
    description=(
        "Bankruptcies per sector from the registered champion (`sector-vitality@champion`) for the quarters ahead "
        "it serves, with 80% and 95% intervals calibrated per sector on its real-time backtest; the Sector Vitality "
        "Score derived from it and the births nowcast by simulation (median, 80% and 95% intervals) where the births "
        "can be nowcast honestly; and per sector the inputs that moved the forecast since the previous origin "
        "(`why`). Says which model, version and data source produced it."
    ),
    group_name=FORECASTS_GROUP,
    ins={
        "champion_model": dg.AssetIn(),
        "backtest_leaderboard": dg.AssetIn(),
        "feature_frame": dg.AssetIn(**ALL_PRESENT),
        "quarterly_panel": dg.AssetIn(**ALL_PRESENT),
    },
    io_manager_key="parquet_io_manager",
    kinds={"mlflow", "pandas"},
    check_specs=[contract_spec(
        "forecasts", "Pandera contract of the forecasts: nested intervals, counts >= 0, scores in [0, 1].")],
    code_version="4",
)
def forecasts(
    context: dg.AssetExecutionContext, champion_model: dict, backtest_leaderboard: dict, feature_frame: dict,
    quarterly_panel: dict, mlflow: MlflowResource, statbank: StatBankResource,
):
    # MLflow (~2 s) loads when a run logs a model, not when the code location loads (docs/benchmarks.md).
    from mlflow.pyfunc import load_model

    _, rows = newest(feature_frame, "feature_frame")
    origin, target = str(rows["quarter"].iloc[0]), str(rows["target_quarter"].iloc[0])
    uri = f"models:/{mlflow.registered_model_name}@champion"
    client = mlflow.get_client()
    served = client.get_model_version_by_alias(mlflow.registered_model_name, tracking.CHAMPION_ALIAS)
    # Every sector at every horizon the registry serves, from the newest origin (the quarters after `origin`),
    # except what the champion could not forecast (a baseline's input unknown): the model answers those with a
    # 400, and the page lists them instead of failing.
    request = pd.DataFrame([(s, h) for s in sorted(rows["sector"].astype(int)) for h in HORIZONS],
                           columns=["sector", "horizon"])
    request, missing = _made(request, backtest_leaderboard, champion_name(champion_model), origin)
    if missing:
        context.log.warning(f"forecasts: {champion_name(champion_model)} made no forecast at {origin} for {missing}")
    location = client.get_model_version_download_uri(mlflow.registered_model_name, served.version)
    result = load_model(location).predict(request, params={"explain": True})
    champion = str(result["model"].iloc[0])
    stale = result[result["quarter"].map(quarter_index) - quarter_index(origin) != result["horizon"]]
    if len(stale):  # the registered table must be the newest origin's; a stale version would shift every quarter
        raise dg.Failure(f"forecasts: the champion version serves origin {stale['model_origin'].iloc[0]}, "
                         f"not the newest features' origin {origin}; re-materialise champion_model")
    panel = pd.concat(quarterly_panel.values(), ignore_index=True)
    first = result[result["horizon"] == 1]  # the score's simulation draws one quarter ahead
    mu = dict(zip(first["sector"].astype(int), first["prediction"].astype(float), strict=True))
    residuals = calibration.residual_pool(
        backtest_leaderboard["predictions"], champion, origin, backtest_leaderboard["validation"])
    scores = scorecast.score_forecast(origin, mu, residuals, panel)
    simulated = {1} if len(scores) and scores["score_prediction"].notna().any() else set()
    reach = scoreahead.score_reach(panel, origin, set(result["horizon"]), simulated)
    if scores.empty:
        scores = pd.DataFrame({"sector": result["sector"], "births_basis": "unavailable"})
    scores = scores.drop(columns=["target_quarter"], errors="ignore").assign(horizon=1)
    births = pd.concat([scorecast.births_at_origin(panel, origin, q).assign(quarter=q)
                        for q in sorted(set(result["quarter"]))], ignore_index=True)
    result = result.merge(scores, on=["sector", "horizon"], how="left").merge(
        births, on=["sector", "quarter"], how="left")
    # A score is kept only where the births it needs can be nowcast honestly (`domain.scoreahead`).
    result = result.reindex(columns=[*result.columns, *(c for c in _SCORE_COLUMNS if c not in result.columns)])
    result.loc[~result["horizon"].isin(reach.loc[reach["derived"], "horizon"]), _SCORE_COLUMNS] = float("nan")
    result.insert(1, "sector_name", result["sector"].map(SECTORS))
    result = result.assign(model_version=str(champion_model.get("champion_version") or "none"))
    why_text = _why(champion, origin, result)
    source = f"{uri} (version {champion_model.get('champion_version')}, {champion}, origin {origin})"
    context.log.info(f"forecasts for {target} from {source}")
    yield from checked_output(
        "forecasts", result, result, contracts.FORECASTS_SCHEMA,
        metadata={**_metadata(result, reach, why_text, panel, statbank.data_label(), source, champion_model, target),
                  "missing_forecasts": dg.MetadataValue.text(missing or "none")},
    )


def _made(request: pd.DataFrame, backtest_leaderboard: dict, model: str, origin: str) -> tuple[pd.DataFrame, str]:
    """(`request` without the (sector, horizon) pairs `model` could not forecast at `origin`, those pairs named)."""
    rows = backtest_leaderboard["predictions_by_horizon"]
    gaps = rows[(rows["model"] == model) & (rows["origin"].astype(str) == origin) & rows["prediction"].isna()]
    keys = ["sector", "horizon"]
    missing = pd.MultiIndex.from_frame(request[keys]).isin(pd.MultiIndex.from_frame(gaps[keys].astype("int64")))
    named = ", ".join(f"sector {s} horizon {h}" for s, h in request[missing].itertuples(index=False))
    return request[~missing].reset_index(drop=True), named


def _metadata(result: pd.DataFrame, reach: pd.DataFrame, why_text: str, panel: pd.DataFrame, label: str,
              source: str, champion_model: dict, target: str) -> dict:
    return {
        **frame_metadata(result, preview_rows=10),
        "forecast_quarter": dg.MetadataValue.text(target),
        "horizons": dg.MetadataValue.text(", ".join(str(h) for h in sorted(set(result["horizon"])))),
        "source": dg.MetadataValue.text(source),
        "gate": dg.MetadataValue.text(champion_model["gate"]["reason"]),
        "forecasts": dg.MetadataValue.md(markdown_table(_interval_frame(result), max_rows=40)),
        "score": dg.MetadataValue.md(_score_markdown(reach, result)),
        "why": dg.MetadataValue.md(why_text),
        "data": dg.MetadataValue.text(label),
        "plot": _png_markdown(plots.fan_chart(panel, result, note=label), "Fan chart: history and the quarters ahead"),
    }


def _png_markdown(png: bytes, title: str) -> dg.MetadataValue:
    """PNG bytes as a markdown data URI, the way the UI shows every plot of this project."""
    return dg.MetadataValue.md(f"### {title}\n\n![{title}](data:image/png;base64,{base64.b64encode(png).decode()})")
