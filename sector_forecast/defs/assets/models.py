"""One fit asset per model; each quarterly partition is one forecast origin of a rolling-origin backtest.

A fit for origin q trains on every feature row whose target (a bankruptcy count) is known at q (rows up to
q-1) and forecasts q+1 for all ten sectors. Backfilling the origins is the backtest; the newest fitted
origin is the live fit. Each partition is one MLflow run; the MLflow model itself is logged where it can be
promoted: for the newest origin the data hold (decided from the features, never from the calendar).
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd
from pydantic import Field

from sector_forecast.contracts import models as contracts
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.domain import models
from sector_forecast.tracking import runs as tracking

MODELS_GROUP = "models"
TRAIN_WINDOW_QUARTERS = 40  # expanding window, capped at ten years of features
MODEL_NAMES: tuple[str, ...] = tuple(models.MODELS)
FIT_ASSET_NAMES: tuple[str, ...] = tuple(f"fit_{name}" for name in MODEL_NAMES)


class FitConfig(dg.Config):
    log_model: bool = Field(
        default=False,
        description="Log the fitted MLflow model for every origin of this run (re-fit on request). "
        "The newest origin with features is always logged.",
    )


def fit_tags(context: dg.AssetExecutionContext, asset_name: str, key: str) -> dict[str, str]:
    return {
        "dagster.run_id": context.run.run_id,
        "dagster.asset_key": asset_name,
        "dagster.partition": key,
        "origin": quarter_key_to_label(key),
    }


def _fit_asset(model_name: str) -> dg.AssetsDefinition:
    asset_name = f"fit_{model_name}"
    spec = models.MODELS[model_name]

    @dg.asset(
        name=asset_name,
        description=f"{spec.description}\n\nOne partition = one forecast origin (trained on data known at "
        "that quarter, forecasting the next). Stored: fitted model, predictions, MLflow run id.",
        group_name=MODELS_GROUP,
        partitions_def=origin_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="parquet_io_manager",
        kinds={"mlflow", "scikitlearn" if model_name != "xgboost" else "xgboost"},
        ins={
            "feature_frame": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-TRAIN_WINDOW_QUARTERS, allow_nonexistent_upstream_partitions=True
                ),
                metadata={"allow_missing_partitions": True},
            )
        },
        check_specs=[contract_spec(asset_name, "Pandera contract of the fit's predictions.")],
        code_version="1",
    )
    def _fit(
        context: dg.AssetExecutionContext,
        config: FitConfig,
        feature_frame: dict[str, pd.DataFrame],
        mlflow: MlflowResource,
        statbank: StatBankResource,
    ) -> Iterator:
        # MLflow (~2 s) loads when a run logs a model, not when the code location loads (docs/benchmarks.md).
        from sector_forecast.tracking import pyfunc as serving

        features = pd.concat(feature_frame.values(), ignore_index=True)
        client = tracking.client_for(mlflow.uri)
        exp_id = tracking.experiment_id(client, mlflow.experiment_name, mlflow.artifact_location())
        newest_origin = str(features["quarter"].max())
        parts: dict[str, dict] = {}
        for key in context.partition_keys:
            origin = quarter_key_to_label(key)
            fitted, predictions = models.rolling_origin_fit(model_name, features, origin)
            validation = models.validation_frame(fitted, origin)
            known = predictions.dropna(subset=["actual"])
            abs_err = (known["prediction"] - known["actual"]).abs()
            run_id = tracking.log_run(
                client, exp_id, run_name=f"{model_name}@{origin}", params=fitted.params,
                metrics={"train_rows": fitted.train_rows, "validation_scaled_mae": fitted.validation_mae,
                         "mae": abs_err.mean() if len(known) else float("nan")},
                tags={**fit_tags(context, asset_name, key), "model": model_name, **statbank.provenance_tags()},
                tables={"predictions.csv": predictions},
            )
            model_uri = None
            history = features[features["quarter"] <= origin]
            if origin == newest_origin or config.log_model:
                model_uri = tracking.log_model_into(
                    run_id, mlflow.uri,
                    lambda workdir, f=fitted, h=history, o=origin: serving.log_serving_model(
                        f, h, model=model_name, origin=o, workdir=workdir,
                    ),
                )
                context.log.info(f"{asset_name} {origin}: MLflow model logged at {model_uri}")
            parts[key] = {"model": fitted, "predictions": predictions, "validation": validation,
                          "mlflow_run_id": run_id,
                          # The features it was fitted on, so the champion can be packaged from any origin.
                          "model_uri": model_uri, "features": history}
        all_predictions = pd.concat([p["predictions"] for p in parts.values()], ignore_index=True)

        def per_origin(key: str, rows: pd.DataFrame) -> dict:
            part = parts[key]
            return {
                "origin": dg.MetadataValue.text(quarter_key_to_label(key)),
                "training_rows": dg.MetadataValue.int(int(part["model"].train_rows)),
                "parameters": dg.MetadataValue.json(part["model"].params),
                "validation_scaled_mae": dg.MetadataValue.float(float(part["model"].validation_mae)),
                "mlflow_run_id": dg.MetadataValue.text(part["mlflow_run_id"]),
                "mlflow_model": dg.MetadataValue.text(part["model_uri"] or "not logged (not the newest origin)"),
            }

        yield from checked_output(
            asset_name, parts, all_predictions, contracts.PREDICTIONS_SCHEMA,
            metadata={
                "origins": dg.MetadataValue.text(
                    f"{quarter_key_to_label(min(parts))}..{quarter_key_to_label(max(parts))} ({len(parts)})"),
                "horizon": dg.MetadataValue.text("1 quarter ahead, bankruptcies per sector"),
                "mlflow_tracking_uri": dg.MetadataValue.text(mlflow.uri),
            },
            partition_metadata=per_origin,
            shared={"horizon", "mlflow_tracking_uri"},
        )

    return _fit


FIT_ASSETS = [_fit_asset(name) for name in MODEL_NAMES]
