"""Next-quarter forecasts from the registered champion: bankruptcies with calibrated intervals, and the score.

The bankruptcy forecast comes from `sector-vitality@champion` itself (the registry serves what the UI shows);
the score forecast is derived from it by simulation together with the births nowcast, so its interval
carries both uncertainties (`domain.scorecast`).
"""

import dagster as dg
import pandas as pd

from sector_forecast.contracts import forecasting as contracts
from sector_forecast.defs.assets.evaluation import ALL_PRESENT, newest
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.metadata import figure_markdown, frame_metadata, markdown_table
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.domain import calibration, scorecast
from sector_forecast.domain.sectors import SECTORS
from sector_forecast.reports import plots
from sector_forecast.tracking import runs as tracking

FORECASTS_GROUP = "forecasts"


@dg.asset(
    description=(
        "Next-quarter bankruptcies per sector from the registered champion (`sector-vitality@champion`) with "
        "80% and 95% intervals calibrated per sector on its real-time backtest, and the Sector Vitality Score "
        "derived from it and the births nowcast by simulation (median, 80% and 95% intervals). Says which "
        "model, version and data source produced it."
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
    code_version="2",
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
    request = rows[["sector", "target_quarter"]].rename(columns={"target_quarter": "quarter"})
    location = client.get_model_version_download_uri(mlflow.registered_model_name, served.version)
    result = load_model(location).predict(request)
    champion = str(result["model"].iloc[0])
    panel = pd.concat(quarterly_panel.values(), ignore_index=True)
    mu = dict(zip(result["sector"].astype(int), result["prediction"].astype(float), strict=True))
    residuals = calibration.residual_pool(
        backtest_leaderboard["predictions"], champion, origin, backtest_leaderboard["validation"])
    scores = scorecast.score_forecast(origin, mu, residuals, panel)
    if scores.empty:
        scores = pd.DataFrame({"sector": result["sector"], "births_basis": "unavailable"})
    scores = scores.drop(columns=["target_quarter"], errors="ignore")
    result = result.merge(scores, on="sector", how="left").merge(
        scorecast.births_at_origin(panel, origin, target), on="sector", how="left")
    result.insert(1, "sector_name", result["sector"].map(SECTORS))
    result = result.assign(model_version=str(champion_model.get("champion_version") or "none"))
    source = f"{uri} (version {champion_model.get('champion_version')}, {champion}, origin {origin})"
    context.log.info(f"forecasts for {target} from {source}")
    yield from checked_output(
        "forecasts", result, result, contracts.FORECASTS_SCHEMA,
        metadata={
            **frame_metadata(result, preview_rows=10),
            "forecast_quarter": dg.MetadataValue.text(target),
            "source": dg.MetadataValue.text(source),
            "gate": dg.MetadataValue.text(champion_model["gate"]["reason"]),
            "forecasts": dg.MetadataValue.md(markdown_table(result, max_rows=10)),
            "data": dg.MetadataValue.text(statbank.data_label()),
            "plot": figure_markdown(
                plots.forecast_panels(panel, result, note=statbank.data_label()), "History and forecast"),
        },
    )
