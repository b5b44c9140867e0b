"""One fit asset per model; each quarterly partition is one forecast origin of a rolling-origin backtest.

A fit for origin q trains on the domain's window (`forecasters.TRAIN_WINDOW_QUARTERS` quarters before q, targets known
at q) and forecasts q+1 for all ten sectors. The partition mapping only has to deliver that window: the domain
cuts it, so a partition gives the same fit alone, in a range or in `sector-forecast run`. Backfilling the origins
is the backtest; the newest origin is the live forecast. Each partition is one MLflow run (parameters, metrics,
predictions); the served model is the champion's table of these forecasts (`champion_model`).
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from sector_forecast.contracts import forecasting as contracts
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.metadata import markdown_table, number
from sector_forecast.defs.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.domain import forecasters, horizons
from sector_forecast.domain.features import HORIZONS
from sector_forecast.tracking import runs as tracking

MODELS_GROUP = "models"
MODEL_NAMES: tuple[str, ...] = tuple(forecasters.MODELS)
FIT_ASSET_NAMES: tuple[str, ...] = tuple(f"fit_{name}" for name in MODEL_NAMES)
_KINDS = {"rule": "pandas", "series": "statsforecast", "regression": "scikitlearn"}


def fit_tags(context: dg.AssetExecutionContext, asset_name: str, key: str) -> dict[str, str]:
    return {
        "dagster.run_id": context.run.run_id,
        "dagster.asset_key": asset_name,
        "dagster.partition": key,
        "origin": quarter_key_to_label(key),
    }


def _fit_origin(model_name: str, features: pd.DataFrame, frames: dict, key: str, log) -> dict:
    """Fit one origin at every horizon and log its MLflow run: the partition's stored value."""
    origin = quarter_key_to_label(key)
    fitted, predictions, validation = horizons.fit_horizons(model_name, features, origin, frames=frames)
    # Horizons > 1 are graded by the leaderboard from the panel: the partition's feature rows may or may not hold
    # a later quarter depending on how the run was batched, and a stored fit must not depend on that.
    predictions.loc[predictions["horizon"] > 1, "actual"] = float("nan")
    known = predictions[predictions["horizon"] == 1].dropna(subset=["actual", "prediction"])
    abs_err = (known["prediction"] - known["actual"]).abs()
    run_id = log(
        run_name=f"{model_name}@{origin}", params=fitted.params,
        metrics={"train_rows": fitted.train_rows, "validation_scaled_mae": fitted.validation_mae,
                 "mae": abs_err.mean() if len(known) else float("nan"),
                 "missing_sectors": len(fitted.missing)},
        key=key, tables={"predictions.csv": predictions},
    )
    return {"model": fitted, "summary": run_summary(fitted), "predictions": predictions, "validation": validation,
            "mlflow_run_id": run_id}


def run_summary(fitted: forecasters.FittedModel) -> dict[str, str]:
    """The fitted model as the leaderboard's runs table shows it, stored as JSON beside the pickled model.

    So `backtest_leaderboard` reads it without unpickling hundreds of estimators (and importing scikit-learn
    and XGBoost into its run: seconds) for a name and two strings.
    """
    return {"model": fitted.name, "parameters": str(fitted.params),
            "missing": "; ".join(f"{s}: {r}" for s, r in sorted(fitted.missing.items()))}


def _partition_metadata(parts: dict[str, dict]):
    def per_origin(key: str, rows: pd.DataFrame) -> dict:
        fitted = parts[key]["model"]
        return {
            "origin": dg.MetadataValue.text(quarter_key_to_label(key)),
            "training_window": dg.MetadataValue.text("..".join(fitted.train_quarters)),
            "training_rows": dg.MetadataValue.int(int(fitted.train_rows)),
            "parameters": dg.MetadataValue.json(fitted.params),
            "validation_scaled_mae": number(fitted.validation_mae),
            "missing_forecasts": dg.MetadataValue.json({str(s): r for s, r in fitted.missing.items()}),
            "mlflow_run_id": dg.MetadataValue.text(parts[key]["mlflow_run_id"]),
        }
    return per_origin


def _path_table(parts: dict[str, dict]) -> pd.DataFrame:
    """The chosen hyper-parameters by origin (the tuning path) and the missing forecasts, for the run's page."""
    return pd.DataFrame([{"origin": quarter_key_to_label(k), "parameters": str(p["model"].params),
                          "cv_scaled_mae": float(p["model"].validation_mae),
                          "missing_sectors": len(p["model"].missing)} for k, p in sorted(parts.items())])


def _run_metadata(parts: dict[str, dict], tracking_uri: str) -> dict:
    """The run's page: the origins it fitted, the horizons, where the MLflow runs are and the tuning path."""
    return {
        "origins": dg.MetadataValue.text(
            f"{quarter_key_to_label(min(parts))}..{quarter_key_to_label(max(parts))} ({len(parts)})"),
        "horizon": dg.MetadataValue.text(
            f"1–{max(HORIZONS)} quarters ahead (direct: one fit per horizon), bankruptcies per sector"),
        "mlflow_tracking_uri": dg.MetadataValue.text(tracking_uri),
        "tuning_path": dg.MetadataValue.md(markdown_table(_path_table(parts), max_rows=80)),
    }


def _fit_asset(model_name: str) -> dg.AssetsDefinition:
    asset_name = f"fit_{model_name}"
    spec = forecasters.MODELS[model_name]

    @dg.asset(
        name=asset_name,
        description=f"{spec.description} ({spec.role})\n\nOne partition = one forecast origin (trained on the "
        f"{forecasters.TRAIN_WINDOW_QUARTERS} quarters of data known at that quarter, forecasting each of the next "
        f"{max(HORIZONS)}). "
        "Stored: fitted model, predictions, validation residuals, MLflow run id.",
        group_name=MODELS_GROUP,
        partitions_def=origin_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="parquet_io_manager",
        kinds={"mlflow", _KINDS[spec.kind]},
        ins={
            "feature_frame": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-forecasters.TRAIN_WINDOW_QUARTERS, allow_nonexistent_upstream_partitions=True
                ),
                metadata={"allow_missing_partitions": True},
            )
        },
        check_specs=[contract_spec(asset_name, "Pandera contract of the fit's predictions.")],
        code_version="3",
    )
    def _fit(
        context: dg.AssetExecutionContext,
        feature_frame: dict[str, pd.DataFrame],
        mlflow: MlflowResource,
        statbank: StatBankResource,
    ) -> Iterator:
        features = pd.concat(feature_frame.values(), ignore_index=True)
        client, exp_id = mlflow.get_client(), mlflow.experiment_id()
        provenance = statbank.provenance_tags()

        def log(*, key: str, **run) -> str:
            tags = {**fit_tags(context, asset_name, key), "model": model_name, "model.role": spec.role, **provenance}
            return tracking.log_run(client, exp_id, tags=tags, **run)

        frames = horizons.horizon_frames(features)
        parts = {key: _fit_origin(model_name, features, frames, key, log) for key in context.partition_keys}
        missing = sum(len(p["model"].missing) for p in parts.values())
        if missing:
            context.log.warning(f"{asset_name}: {missing} sector forecasts missing (see missing_forecasts)")
        all_predictions = pd.concat([p["predictions"] for p in parts.values()], ignore_index=True)
        yield from checked_output(
            asset_name, parts, all_predictions, contracts.PREDICTIONS_SCHEMA, metadata=_run_metadata(parts, mlflow.uri),
            partition_metadata=_partition_metadata(parts), shared={"horizon", "mlflow_tracking_uri"},
        )

    return _fit


FIT_ASSETS = [_fit_asset(name) for name in MODEL_NAMES]
