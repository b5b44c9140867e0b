"""The rolling-origin backtest graded in real time, and the promotion gate into the MLflow registry.

`backtest_leaderboard` calibrates every fit's forecasts per sector (each origin only with residuals graded
before it), derives the score forecasts from them, and grades both against published actuals only.
`champion_model` asks for evidence: the best model must beat the *better* baseline, significantly
(Diebold–Mariano with the Harvey–Leybourne–Newbold correction), or the better baseline is the champion.
"""

import dagster as dg
import pandas as pd

from sector_forecast.contracts import models as contracts_models
from sector_forecast.defs.assets.models import FIT_ASSET_NAMES, fit_tags
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.metadata import figure_markdown, markdown_table
from sector_forecast.defs.partitions import quarter_key_to_label
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.domain import calibration, evidence, metrics, score, scorecast
from sector_forecast.reports import plots
from sector_forecast.tracking import runs as tracking

# Every partition that is materialised: in the first days of a quarter its origin partition already exists but
# DST has not published the quarter's last month, so its fits (and features) are not there yet.
PRESENT = {"metadata": {"allow_missing_partitions": True}}
ALL_PRESENT = {"partition_mapping": dg.AllPartitionMapping(), **PRESENT}
EVALUATION_GROUP = "evaluation"
GATE_ALPHA = 0.10  # the evidence bar: one-sided DM p < 0.10 against the better baseline


def newest(partitions: dict[str, object], asset: str) -> tuple[str, object]:
    """The newest materialised partition of a loaded input, or a one-line error naming the asset."""
    if not partitions:
        raise dg.Failure(f"{asset} has no materialised partition yet: materialise it before this asset")
    key = max(partitions)
    return key, partitions[key]


def _coverage_table(per_sector: pd.DataFrame) -> pd.DataFrame:
    cols = ["model", "sector", "n", "coverage80", "coverage95", "interval_score", "mase"]
    return per_sector[cols]


@dg.asset(
    description=(
        "Rolling-origin backtest, graded in real time: each origin saw only what DST had published on its date, "
        "and is graded only against published actuals. Bankruptcy forecasts from the first origin with three "
        "years of training data; score forecasts (derived by simulation from the bankruptcy forecast and a "
        "births nowcast) wherever DST has published final births. Per model, target and sector: MAE, RMSE, MASE "
        "(Hyndman–Koehler, seasonal in-sample scale), 80%/95% coverage of intervals calibrated per sector "
        "(sequential Mondrian split-conformal) and the interval (Winkler) score."
    ),
    group_name=EVALUATION_GROUP,
    ins={
        **{name: dg.AssetIn(name, **PRESENT) for name in FIT_ASSET_NAMES},
        "quarterly_panel": dg.AssetIn(**ALL_PRESENT),
    },
    io_manager_key="parquet_io_manager",
    kinds={"pandas"},
    check_specs=[contract_spec("backtest_leaderboard", "Pandera contract of the leaderboard rows.")],
    code_version="2",
)
def backtest_leaderboard(
    context: dg.AssetExecutionContext, statbank: StatBankResource, quarterly_panel: dict, **fits: dict
):
    parts = [part for fit in fits.values() for part in fit.values()]
    predictions = pd.concat([p["predictions"] for p in parts], ignore_index=True)
    validation = pd.concat([p["validation"] for p in parts], ignore_index=True)
    calibrated = calibration.calibrate_backtest(predictions, validation)
    panel = pd.concat(quarterly_panel.values(), ignore_index=True)
    scores = scorecast.score_backtest(calibrated, panel, validation)
    overall, per_sector = metrics.leaderboard(calibrated, target="bankruptcies")
    s_overall, s_per_sector = metrics.leaderboard(scores, target="score")
    board = pd.concat([overall, s_overall], ignore_index=True)
    graded = calibrated.dropna(subset=["actual"])
    origins = sorted(graded["origin"].unique())
    score_origins = sorted(scores.dropna(subset=["actual"])["origin"].unique())
    context.log.info(f"backtest over {len(origins)} graded origins:\n{board.to_string(index=False)}")
    at_zero = int((calibrated["lower80"] <= 0).sum())
    distribution = score.score_distribution(panel)
    value = {"score_distribution": distribution, "overall": board,
             "per_sector": pd.concat([per_sector, s_per_sector], ignore_index=True),
             "predictions": calibrated, "validation": validation, "score_predictions": scores}
    yield from checked_output(
        "backtest_leaderboard", value, board, contracts_models.LEADERBOARD_SCHEMA,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(board)),
            "graded_origins": dg.MetadataValue.text(
                f"{origins[0]}..{origins[-1]} ({len(origins)})" if origins else "none"),
            "graded_score_origins": dg.MetadataValue.text(
                f"{score_origins[0]}..{score_origins[-1]} ({len(score_origins)})" if score_origins else "none"),
            "leaderboard": dg.MetadataValue.md(markdown_table(board)),
            "per_sector_coverage": dg.MetadataValue.md(markdown_table(_coverage_table(per_sector), max_rows=40)),
            "lower_bounds_at_zero": dg.MetadataValue.md(
                f"{at_zero} of {len(calibrated)} 80% lower bounds are 0: a count cannot be negative, so the "
                "interval starts at the support's edge (stated, not hidden)."),
            "errors_by_origin": figure_markdown(
                plots.errors_by_origin(calibrated, statbank.data_label()), "Scaled error by origin"),
            "score_distribution": dg.MetadataValue.md(markdown_table(distribution.round(3))),
            "data": dg.MetadataValue.text(statbank.data_label()),
            "best_model": dg.MetadataValue.text(str(overall.iloc[0]["model"])),
        },
    )


@dg.asset(
    description=(
        "Promotion gate: the challenger with the lowest bankruptcy MASE is promoted only if it beats the better "
        "of naive and seasonal naive on MASE *and* the difference is significant (one-sided Diebold–Mariano with "
        "the Harvey–Leybourne–Newbold correction on per-origin scaled errors, p < 0.10). Otherwise the better "
        "baseline is the champion. The champion is registered as `sector-vitality` with alias `champion`, with "
        "its per-sector calibrated interval quantiles; decision, statistic and p-value are in MLflow and here."
    ),
    group_name=EVALUATION_GROUP,
    ins={
        "backtest_leaderboard": dg.AssetIn(),
        **{name: dg.AssetIn(name, **ALL_PRESENT) for name in FIT_ASSET_NAMES},
    },
    io_manager_key="parquet_io_manager",
    kinds={"mlflow"},
    check_specs=[contract_spec("champion_model", "Pandera contract of the gate's decision.")],
    code_version="2",
)
def champion_model(
    context: dg.AssetExecutionContext, backtest_leaderboard: dict, mlflow: MlflowResource,
    statbank: StatBankResource, **fits: dict,
):
    # MLflow (~2 s) loads when a run logs a model, not when the code location loads (docs/benchmarks.md).
    from sector_forecast.tracking import pyfunc as serving

    gate = evidence.promotion_gate(backtest_leaderboard["predictions"], alpha=GATE_ALPHA)
    champ = gate.champion
    client = tracking.client_for(mlflow.uri)
    exp_id = tracking.experiment_id(client, mlflow.experiment_name, mlflow.artifact_location())
    key, latest = newest(fits[f"fit_{champ}"], f"fit_{champ}")
    origin = quarter_key_to_label(key)
    quantiles, sources = calibration.live_quantiles(
        backtest_leaderboard["predictions"], champ, backtest_leaderboard["validation"])
    decision = "promoted" if gate.promoted else "baseline"
    provenance = statbank.provenance_tags()
    gate_run = tracking.log_run(
        client, exp_id, run_name=f"promotion-gate {champ}@{origin}",
        params={"candidate": gate.candidate, "baseline": gate.baseline, "origin": origin, "alpha": gate.alpha},
        metrics={"gate_statistic": gate.statistic, "gate_pvalue": gate.pvalue,
                 "candidate_mase": gate.candidate_mase, "baseline_mase": gate.baseline_mase},
        tags={**fit_tags(context, "champion_model", key), "gate.decision": decision, "gate.reason": gate.reason,
              "gate.champion": champ, "fit_run_id": latest["mlflow_run_id"], **provenance},
        texts={"leaderboard.md": backtest_leaderboard["overall"].to_markdown(index=False)},
    )
    info: dict = {"champion": champ, "gate": gate.to_dict(), "decision": decision, "origin": origin,
                  "gate_run_id": gate_run, "quantiles": serving.string_keyed(quantiles),
                  "quantile_sources": serving.string_keyed(sources, str)}
    fingerprint = f"{champ}@{origin}:{latest['mlflow_run_id']}:{sorted(quantiles.items())}"
    unchanged = tracking.same_champion(client, mlflow.registered_model_name, fingerprint)
    if unchanged is not None:
        info.update(version=str(unchanged.version), registration="unchanged")
        context.log.info(f"champion version {unchanged.version} already holds {champ}@{origin}: not re-registered")
    else:
        model_uri = tracking.log_model_into(
            gate_run, mlflow.uri,
            lambda workdir: serving.log_serving_model(
                latest["model"], latest["features"], model=champ, origin=origin, quantiles=quantiles,
                data_source=provenance["data.source"], workdir=workdir,
            ),
        )
        version = tracking.register_champion(
            client, mlflow.registered_model_name, model_uri, gate_run,
            tags={"model": champ, "origin": origin, "gate.decision": decision, "gate.pvalue": f"{gate.pvalue:.4f}",
                  "fit_fingerprint": fingerprint, **provenance},
        )
        info.update(version=str(version.version), model_uri=model_uri, registration="registered")
    current = tracking.current_champion(client, mlflow.registered_model_name)
    info["champion_version"] = str(current.version) if current else None
    info["champion_model"] = current.tags.get("model") if current else None
    context.log.info(f"promotion gate: {gate.reason}; champion is version {info['champion_version']} ({champ})")
    table = pd.DataFrame([gate.to_dict()])  # validated whole; shown without the long `reason` (its own entry)
    yield from checked_output(
        "champion_model", info, table, contracts_models.GATE_SCHEMA,
        metadata={
            "champion": dg.MetadataValue.text(champ),
            "decision": dg.MetadataValue.text(decision),
            "reason": dg.MetadataValue.text(gate.reason),
            "gate_statistic": dg.MetadataValue.float(float(gate.statistic)),
            "gate_pvalue": dg.MetadataValue.float(float(gate.pvalue)),
            "gate": dg.MetadataValue.md(markdown_table(table.drop(columns="reason"))),
            "champion_version": dg.MetadataValue.text(str(info["champion_version"])),
            "registered_model": dg.MetadataValue.text(f"models:/{mlflow.registered_model_name}@champion"),
            "interval_quantiles": dg.MetadataValue.json(info["quantiles"]),
            "gate_run_id": dg.MetadataValue.text(gate_run),
            "data": dg.MetadataValue.text(statbank.data_label()),
        },
    )
