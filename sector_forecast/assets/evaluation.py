"""Backtest leaderboard, the promotion gate into the MLflow registry, and the next-quarter forecasts."""


import dagster as dg
import pandas as pd
from mlflow.pyfunc import load_model

from sector_forecast import plots, serving, tracking
from sector_forecast.assets.models import FIT_ASSET_NAMES, MODELS_GROUP, fit_tags
from sector_forecast.domain import metrics
from sector_forecast.domain.features import FEATURE_COLUMNS
from sector_forecast.domain.periods import quarter_offset
from sector_forecast.partitions import quarter_key_to_label
from sector_forecast.resources import MlflowResource, StatBankResource
from sector_forecast.ui import figure_markdown, frame_metadata, markdown_table

BASELINE = "seasonal_naive"
INTERVAL_COVERAGE = 0.8
# Every partition that is materialised: in the first days of a quarter its origin partition already exists but
# DST has not published the quarter's last month, so its fits (and features) are not there yet.
_PRESENT = {"metadata": {"allow_missing_partitions": True}}
_ALL_PRESENT = {"partition_mapping": dg.AllPartitionMapping(), **_PRESENT}


def newest(partitions: dict[str, object], asset: str) -> tuple[str, object]:
    """The newest materialised partition of a loaded input, or a one-line error naming the asset."""
    if not partitions:
        raise dg.Failure(f"{asset} has no materialised partition yet: materialise it before this asset")
    key = max(partitions)
    return key, partitions[key]


@dg.asset(
    description=(
        "Rolling-origin backtest over every evaluated origin: per model and per sector MAE, RMSE, MASE "
        "(the model's MAE divided by seasonal naive's MAE on the same sector-origin pairs), directional "
        "accuracy (share of forecasts that move from the current score in the direction the actual score "
        "moved; no-change counts as its own direction) and prediction-interval coverage. Ranked by MASE."
    ),
    group_name=MODELS_GROUP,
    ins={name: dg.AssetIn(name, **_PRESENT) for name in FIT_ASSET_NAMES},
    io_manager_key="parquet_io_manager",
    kinds={"pandas"},
    code_version="1",
)
def backtest_leaderboard(
    context: dg.AssetExecutionContext, statbank: StatBankResource, **fits: dict[str, dict]
) -> dg.Output:
    predictions = pd.concat(
        [part["predictions"] for fit in fits.values() for part in fit.values()], ignore_index=True
    )
    overall, per_sector = metrics.leaderboard(predictions)
    origins = sorted(predictions.dropna(subset=["actual"])["origin"].unique())
    context.log.info(f"backtest over {len(origins)} evaluated origins:\n{overall.to_string(index=False)}")
    return dg.Output(
        {"overall": overall, "per_sector": per_sector, "predictions": predictions},
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(overall)),
            "evaluated_origins": dg.MetadataValue.text(
                f"{origins[0]}..{origins[-1]} ({len(origins)})" if origins else "none"),
            "leaderboard": dg.MetadataValue.md(markdown_table(overall)),
            "per_sector": dg.MetadataValue.md(markdown_table(per_sector, max_rows=60)),
            "errors_by_origin": figure_markdown(
                plots.errors_by_origin(predictions, statbank.data_label()), "MAE by origin"),
            "data": dg.MetadataValue.text(statbank.data_label()),
            "best_model": dg.MetadataValue.text(str(overall.iloc[0]["model"])),
        },
    )


@dg.asset(
    description=(
        f"Promotion gate: the leaderboard's best model is registered as `sector-vitality` and given the alias "
        f"`champion` only if its backtest MASE beats {BASELINE} (MASE < 1). Otherwise the previous champion "
        "stays and this asset says why. The registered pyfunc carries a split-conformal interval from the "
        "champion's backtest residuals."
    ),
    group_name=MODELS_GROUP,
    ins={
        "backtest_leaderboard": dg.AssetIn(),
        **{name: dg.AssetIn(name, **_ALL_PRESENT) for name in FIT_ASSET_NAMES},
    },
    io_manager_key="parquet_io_manager",
    kinds={"mlflow"},
    code_version="1",
)
def champion_model(
    context: dg.AssetExecutionContext, backtest_leaderboard: dict, mlflow: MlflowResource, **fits: dict
) -> dg.Output:
    overall = backtest_leaderboard["overall"]
    best, beats, reason = metrics.choose_champion(overall, baseline=BASELINE)
    client = tracking.client_for(mlflow.uri)
    exp_id = tracking.experiment_id(client, mlflow.experiment_name, mlflow.artifact_location())
    key, latest = newest(fits[f"fit_{best}"], f"fit_{best}")
    origin = quarter_key_to_label(key)
    residuals = backtest_leaderboard["predictions"].query("model == @best").dropna(subset=["actual"])
    halfwidth = float(metrics.conformal_interval(residuals["actual"] - residuals["prediction"], INTERVAL_COVERAGE))
    best_row = overall[overall["model"] == best].iloc[0]
    decision = "promoted" if beats else "rejected"
    gate_run = tracking.log_run(
        client, exp_id, run_name=f"promotion-gate {best}@{origin}",
        params={"candidate": best, "baseline": BASELINE, "origin": origin, "coverage": INTERVAL_COVERAGE},
        metrics={"mase": best_row["mase"], "mae": best_row["mae"], "interval_halfwidth": halfwidth},
        tags={**fit_tags(context, "champion_model", key), "gate.decision": decision, "gate.reason": reason,
              "fit_run_id": latest["mlflow_run_id"]},
        texts={"leaderboard.md": overall.to_markdown(index=False)},
    )
    info: dict = {"candidate": best, "decision": decision, "reason": reason, "origin": origin,
                  "gate_run_id": gate_run, "interval_halfwidth": halfwidth}
    fingerprint = f"{best}@{origin}:{latest['mlflow_run_id']}:{halfwidth:.6f}"
    unchanged = tracking.same_champion(client, mlflow.registered_model_name, fingerprint) if beats else None
    if unchanged is not None:
        info.update(decision="unchanged", version=str(unchanged.version))
        context.log.info(f"champion version {unchanged.version} already holds {best}@{origin}: not re-registered")
    elif beats:
        model_uri = tracking.log_model_into(
            gate_run, mlflow.uri,
            lambda workdir: serving.log_serving_model(
                latest["model"], latest["features"], model=best, origin=origin, interval_halfwidth=halfwidth,
                coverage=INTERVAL_COVERAGE, workdir=workdir,
            ),
        )
        version = tracking.register_champion(
            client, mlflow.registered_model_name, model_uri, gate_run,
            tags={"model": best, "origin": origin, "mase": f"{best_row['mase']:.4f}",
                  "fit_fingerprint": fingerprint},
        )
        info.update(version=str(version.version), model_uri=model_uri)
    previous = tracking.current_champion(client, mlflow.registered_model_name)
    info["champion_version"] = str(previous.version) if previous else None
    info["champion_model"] = previous.tags.get("model") if previous else None
    context.log.info(f"promotion gate: {decision} {best} ({reason}); champion is version {info['champion_version']}")
    return dg.Output(
        info,
        metadata={
            "decision": dg.MetadataValue.text(info["decision"]),
            "reason": dg.MetadataValue.text(reason),
            "candidate": dg.MetadataValue.text(best),
            "champion_version": dg.MetadataValue.text(str(info["champion_version"])),
            "registered_model": dg.MetadataValue.text(f"models:/{mlflow.registered_model_name}@champion"),
            "interval_halfwidth": dg.MetadataValue.float(halfwidth),
            "gate_run_id": dg.MetadataValue.text(gate_run),
        },
    )


@dg.asset(
    description=(
        "Next-quarter Sector Vitality Score per sector from the registered champion (`sector-vitality@champion`), "
        "with its backtest-conformal interval, the model and version used. Falls back to the seasonal-naive "
        "baseline, labelled as such, while no model has passed the promotion gate."
    ),
    group_name=MODELS_GROUP,
    ins={
        "champion_model": dg.AssetIn(),
        "feature_frame": dg.AssetIn(**_ALL_PRESENT),
        "fit_seasonal_naive": dg.AssetIn(**_ALL_PRESENT),
        "quarterly_panel": dg.AssetIn(**_PRESENT),
    },
    io_manager_key="parquet_io_manager",
    kinds={"mlflow", "pandas"},
    code_version="1",
)
def forecasts(
    context: dg.AssetExecutionContext, champion_model: dict, feature_frame: dict, fit_seasonal_naive: dict,
    quarterly_panel: dict, mlflow: MlflowResource, statbank: StatBankResource,
) -> dg.Output:
    _, latest_rows = newest(feature_frame, "feature_frame")
    if champion_model.get("champion_version"):
        tracking.client_for(mlflow.uri)
        uri = f"models:/{mlflow.registered_model_name}@champion"
        model = load_model(uri)
        # Explicit feature columns: a champion fitted at an older origin still forecasts from today's rows.
        target_quarters = latest_rows["quarter"].map(lambda q: quarter_offset(q, 1))
        request = latest_rows[FEATURE_COLUMNS].assign(quarter=target_quarters)
        result = model.predict(request)
        source = f"{uri} (version {champion_model['champion_version']}, {champion_model['champion_model']})"
    else:
        _, fit = newest(fit_seasonal_naive, "fit_seasonal_naive")
        preds = fit["predictions"]
        result = preds.rename(columns={"quarter": "origin_quarter"}).assign(
            quarter=preds["target_quarter"], model="seasonal_naive (baseline: no champion yet)",
            model_origin=preds["origin"])[serving.OUTPUT_COLUMNS]
        source = "seasonal naive baseline — no model has passed the promotion gate yet"
    result = result.assign(model_version=champion_model.get("champion_version") or "none")
    context.log.info(f"forecasts for {result['quarter'].iloc[0]} from {source}")
    history = pd.concat(quarterly_panel.values(), ignore_index=True)
    return dg.Output(
        result,
        metadata={
            **frame_metadata(result, preview_rows=10),
            "forecast_quarter": dg.MetadataValue.text(str(result["quarter"].iloc[0])),
            "source": dg.MetadataValue.text(source),
            "forecasts": dg.MetadataValue.md(markdown_table(result)),
            "data": dg.MetadataValue.text(statbank.data_label()),
            "plot": figure_markdown(
                plots.history_and_forecast(history, result, note=statbank.data_label()), "History and forecast"),
        },
    )
