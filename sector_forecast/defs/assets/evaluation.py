"""The rolling-origin backtest graded in real time, and the promotion gate into the MLflow registry.

`backtest_leaderboard` calibrates every fit's forecasts per sector (each origin only with residuals graded
before it), derives the score forecasts from them, and grades both against published actuals only.
`champion_model` asks for evidence: the best challenger must beat the *best* baseline significantly (one-sided
Diebold–Mariano with the Harvey–Leybourne–Newbold correction, Holm-adjusted for the number of challengers), or the
best baseline is the champion. The registered model is the champion's real-time forecast table: what was
backtested is what serves.
"""

import hashlib

import dagster as dg
import pandas as pd

from sector_forecast.contracts import forecasting as contracts
from sector_forecast.defs.assets.models import FIT_ASSET_NAMES, run_summary
from sector_forecast.defs.checks import checked_output, contract_spec
from sector_forecast.defs.evaluation_metadata import gate_metadata, leaderboard_metadata
from sector_forecast.defs.io_manager import LAZY_PICKLES
from sector_forecast.defs.partitions import quarter_key_to_label
from sector_forecast.defs.resources import MlflowResource, StatBankResource
from sector_forecast.domain import calibration, explain, forecasters, gate, horizons, metrics, score, scorecast
from sector_forecast.domain.jsonable import to_json
from sector_forecast.storage.values import Pickled
from sector_forecast.tracking import runs as tracking

# Every partition that is materialised: in the first days of a quarter its origin partition already exists but
# DST has not published the quarter's last month, so its fits (and features) are not there yet.
PRESENT = {"metadata": {"allow_missing_partitions": True}}
# The fits without their fitted estimators, which the leaderboard does not use (their libraries cost seconds).
FITS_PRESENT = {"metadata": {"allow_missing_partitions": True, LAZY_PICKLES: True}}
ALL_PRESENT = {"partition_mapping": dg.AllPartitionMapping(), **PRESENT}
EVALUATION_GROUP = "evaluation"
GATE_ALPHA = 0.10  # the evidence bar: one-sided DM p < 0.10 against the best baseline, after Holm


def newest(partitions: dict[str, object], asset: str) -> tuple[str, object]:
    """The newest materialised partition of a loaded input, or a one-line error naming the asset."""
    if not partitions:
        raise dg.Failure(f"{asset} has no materialised partition yet: materialise it before this asset")
    key = max(partitions)
    return key, partitions[key]


def _summary(part: dict) -> dict[str, str]:
    """A fit partition's `run_summary`; a partition stored before fits kept one has its model unpickled for it."""
    if "summary" in part:
        return part["summary"]
    model = part["model"]
    return run_summary(model.load() if isinstance(model, Pickled) else model)


def _runs(fits: dict[str, dict]) -> pd.DataFrame:
    """One row per (model, origin): its MLflow run, chosen parameters and missing sectors (why, per sector)."""
    rows = [{"model": summary["model"], "origin": quarter_key_to_label(key), "mlflow_run_id": part["mlflow_run_id"],
             "parameters": summary["parameters"], "missing": summary["missing"]}
            for fit in fits.values() for key, part in fit.items() for summary in [_summary(part)]]
    return pd.DataFrame(rows).sort_values(["model", "origin"], ignore_index=True)


def _stacked(bankruptcies: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Both targets' tables; an empty one (no score graded yet: a young instance) must not turn the columns into
    objects (pandas takes dtypes from empty frames too), which the leaderboard's contract refuses."""
    return pd.concat([f for f in (bankruptcies, scores) if len(f)] or [bankruptcies], ignore_index=True)


@dg.asset(
    description=(
        "Rolling-origin backtest, graded in real time: each origin saw only what DST had published on its date, "
        "and is graded only against published actuals. Four baselines (naive, seasonal naive, recent mean, Theta) "
        "and the challengers, all on the same origins. Bankruptcy forecasts from the first origin with three years "
        "of training data; score forecasts (derived by simulation from the bankruptcy forecast and a births "
        "nowcast) wherever DST has published final births. Per model, target and sector: MAE, RMSE, MASE "
        "(Hyndman–Koehler, seasonal in-sample scale), 80%/95% coverage of intervals calibrated per sector "
        "(sequential Mondrian split-conformal) and the interval (Winkler) score; missing forecasts and the "
        "challengers' tuning paths."
    ),
    group_name=EVALUATION_GROUP,
    ins={
        **{name: dg.AssetIn(name, **FITS_PRESENT) for name in FIT_ASSET_NAMES},
        "quarterly_panel": dg.AssetIn(**ALL_PRESENT),
    },
    io_manager_key="parquet_io_manager",
    kinds={"pandas"},
    check_specs=[contract_spec("backtest_leaderboard", "Pandera contract of the leaderboard rows.")],
    code_version="4",
)
def backtest_leaderboard(
    context: dg.AssetExecutionContext, statbank: StatBankResource, quarterly_panel: dict, **fits: dict
):
    parts = [part for fit in fits.values() for part in fit.values()]
    panel = pd.concat(quarterly_panel.values(), ignore_index=True)
    predictions = horizons.attach_actuals(pd.concat([p["predictions"] for p in parts], ignore_index=True), panel)
    all_validation = pd.concat([p["validation"] for p in parts], ignore_index=True)
    by_horizon = calibration.calibrate_horizons(predictions, all_validation)
    # Horizon 1 is today's backtest, frame for frame: scores, plots, the forecasts and monitoring read it.
    calibrated, validation = horizons.one_step(by_horizon), horizons.one_step(all_validation)
    h_overall, h_per_sector = horizons.leaderboards(by_horizon)
    scores = scorecast.score_backtest(calibrated, panel, validation)
    overall, per_sector = metrics.leaderboard(calibrated, target="bankruptcies")
    s_overall, s_per_sector = metrics.leaderboard(scores, target="score")
    board = _stacked(overall, s_overall)
    board.insert(2, "role", board["model"].map(lambda m: forecasters.MODELS[m].role if m in forecasters.MODELS else ""))
    graded_origins = calibrated.dropna(subset=["actual"])["origin"].nunique()
    context.log.info(f"backtest over {graded_origins} graded origins:\n{board.to_string(index=False)}")
    value = {"score_distribution": score.score_distribution(panel), "score_season": score.quarter_of_year_test(panel),
             "score_drivers": score.score_drivers(panel), "overall": board,
             "per_sector": _stacked(per_sector, s_per_sector),
             "predictions": calibrated, "validation": validation, "score_predictions": scores, "runs": _runs(fits),
             "predictions_by_horizon": by_horizon, "validation_by_horizon": all_validation,
             "overall_by_horizon": h_overall, "per_sector_by_horizon": h_per_sector}
    yield from checked_output(
        "backtest_leaderboard", value, board, contracts.LEADERBOARD_SCHEMA,
        metadata=leaderboard_metadata(value, overall, per_sector, statbank.data_label()),
    )


def champion_table(calibrated: pd.DataFrame, champion: str) -> pd.DataFrame:
    """The champion's calibrated forecasts at every origin and horizon: what the registered model serves."""
    rows = calibrated[calibrated["model"] == champion]
    if "horizon" not in rows.columns:
        rows = rows.assign(horizon=1)
    table = rows.rename(columns={"target_quarter": "quarter"}).astype({"horizon": "int64"})
    return table[["sector", "origin", "horizon", "quarter", "prediction", "lower80", "upper80", "lower95",
                  "upper95"]].sort_values(["origin", "horizon", "sector"], ignore_index=True)


def fingerprint(champion: str, table: pd.DataFrame) -> str:
    """Content hash of what would be served: unchanged data and code give the same hash, so no new version."""
    digest = hashlib.sha256(champion.encode())
    digest.update(pd.util.hash_pandas_object(table.round(9), index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _gate_metrics(verdict: gate.GateDecision, verdicts: dict[int, gate.GateDecision]) -> dict[str, float]:
    """The gate run's MLflow metrics: horizon 1's statistics (the decision) and each later horizon's Holm p."""
    return {"gate_statistic": verdict.statistic, "gate_pvalue": verdict.pvalue, "gate_pvalue_holm": verdict.pvalue_holm,
            "candidate_mase": verdict.candidate_mase, "baseline_mase": verdict.baseline_mase,
            **{f"gate_pvalue_holm_h{h}": v.pvalue_holm for h, v in verdicts.items() if h > 1}}


def _with_why(table: pd.DataFrame, champion: str, feature_frame: dict, origin: str, log) -> pd.DataFrame:
    """The served table with `why` at the newest origin, every horizon: what moved it since the origin before.

    Only the newest origin: the service explains the forecasts in use (a refit at two origins), not every backtest
    origin. The refit is the backtest's own fit, so its forecasts must equal the table's; a gap is logged.
    """
    try:
        explained, refit = explain.explain_origins(champion, pd.concat(feature_frame.values(), ignore_index=True),
                                                   [origin])
    except ValueError as err:
        log.info(f"champion_model: no explanation registered: {err}")
        return table
    key = ["sector", "horizon"]
    served = table[table["origin"] == origin].set_index(key)["prediction"]
    gap = (refit.set_index(key)["prediction"] - served.reindex(refit.set_index(key).index)).abs().max()
    if gap >= 1e-6:
        log.warning(f"champion_model: the {champion} refit at {origin} differs from the backtest by {gap:.3g}")
    return table.merge(explain.explain_table(explained), on=["sector", "origin", "horizon"], how="left")


def _register(
    mlflow: MlflowResource, client, table: pd.DataFrame, gate_run: str, tags: dict[str, str], log
) -> dict[str, str]:
    """Register the served table as a new `champion` version, unless the current version already serves it.

    The content hash (`fingerprint`) decides, so a re-run on unchanged data and code registers nothing. Returns
    what `champion_model`'s value records: the version, its model URI when new, and which of the two happened.
    """
    # MLflow (~2 s) loads when a run logs a model, not when the code location loads (docs/benchmarks.md).
    from sector_forecast.tracking import pyfunc as serving

    stamp = fingerprint(tags["model"], table)
    with tracking.registry_lock(mlflow.uri):
        unchanged = tracking.same_champion(client, mlflow.registered_model_name, stamp)
        if unchanged is not None:
            log.info(f"champion version {unchanged.version} already serves these forecasts: not registered")
            return {"version": str(unchanged.version), "registration": "unchanged"}
        model_uri = tracking.log_model_into(
            gate_run, mlflow.uri,
            lambda workdir: serving.log_serving_model(
                table, model=tags["model"], origin=tags["origin"], data_source=tags["data.source"], workdir=workdir),
        )
        version = tracking.register_champion(
            client, mlflow.registered_model_name, model_uri, gate_run, tags=tags, fingerprint=stamp)
    if version.run_id != gate_run:  # registered before, or by another host on the tracking server meanwhile
        log.info(f"version {version.version} was registered from these forecasts first: the champion again, "
                 "the new copy deleted")
        return {"version": str(version.version), "registration": "unchanged"}
    return {"version": str(version.version), "model_uri": model_uri, "registration": "registered"}


@dg.asset(
    description=(
        "Promotion gate: the challenger with the lowest bankruptcy MASE is promoted only if it beats the best "
        "baseline (lowest MASE of naive, seasonal naive, recent mean and Theta) with a one-sided Diebold–Mariano "
        "test (Harvey–Leybourne–Newbold correction, per-origin scaled errors) whose p-value, Holm-adjusted for "
        "the number of challengers, is below 0.10. Otherwise the best baseline is the champion. The champion's "
        "real-time forecasts at every origin, with the intervals calibrated at each, are registered as "
        "`sector-vitality` with alias `champion` — a new version only when they change."
    ),
    ins={"backtest_leaderboard": dg.AssetIn(), "feature_frame": dg.AssetIn(**ALL_PRESENT)},
    group_name=EVALUATION_GROUP,
    io_manager_key="parquet_io_manager",
    kinds={"mlflow"},
    check_specs=[contract_spec("champion_model", "Pandera contract of the gate's decision.")],
    code_version="5",
)
def champion_model(
    context: dg.AssetExecutionContext, backtest_leaderboard: dict, feature_frame: dict, mlflow: MlflowResource,
    statbank: StatBankResource,
):
    calibrated = backtest_leaderboard["predictions"]
    verdict = gate.promotion_gate(calibrated, forecasters.BASELINES, alpha=GATE_ALPHA)
    by_horizon = backtest_leaderboard.get("predictions_by_horizon", calibrated)
    # The champion is chosen on horizon 1 (the forecast the graph publishes); the other horizons' gates are
    # reported beside it, each against its own best baseline.
    verdicts = horizons.gates(by_horizon, forecasters.BASELINES, alpha=GATE_ALPHA)
    champ = verdict.champion
    table = champion_table(by_horizon, champ)
    origin = str(table["origin"].max())
    table = _with_why(table, champ, feature_frame, origin, context.log)
    runs = backtest_leaderboard["runs"]
    fit_run = runs[(runs["model"] == champ) & (runs["origin"] == origin)]["mlflow_run_id"]
    client, exp_id = mlflow.get_client(), mlflow.experiment_id()
    quantiles, sources = calibration.live_quantiles(calibrated, champ, backtest_leaderboard["validation"])
    decision = "promoted" if verdict.promoted else "baseline"
    provenance = statbank.provenance_tags()
    gate_run = tracking.log_run(
        client, exp_id, run_name=f"promotion-gate {champ}@{origin}",
        params={"candidate": verdict.candidate, "baseline": verdict.baseline, "origin": origin,
                "alpha": verdict.alpha, "challengers": len(verdict.challengers)},
        metrics=_gate_metrics(verdict, verdicts),
        tags={"dagster.run_id": context.run.run_id, "dagster.asset_key": "champion_model", "origin": origin,
              "gate.decision": decision, "gate.reason": verdict.reason, "gate.champion": champ,
              "fit_run_id": fit_run.iloc[0] if len(fit_run) else "", **provenance},
        texts={"leaderboard.md": backtest_leaderboard["overall"].to_markdown(index=False)},
    )
    info: dict = {"champion": champ, "gate": verdict.to_dict(), "decision": decision, "origin": origin,
                  "gate_by_horizon": {str(h): v.to_dict() for h, v in verdicts.items()},
                  "gate_run_id": gate_run, "quantiles": to_json(quantiles), "quantile_sources": to_json(sources)}
    tags = {"model": champ, "origin": origin, "gate.decision": decision,
            "gate.pvalue_holm": f"{verdict.pvalue_holm:.4f}", **provenance}
    info.update(_register(mlflow, client, table, gate_run, tags, context.log))
    current = tracking.current_champion(client, mlflow.registered_model_name)
    info["champion_version"] = str(current.version) if current else None
    info["champion_model"] = current.tags.get("model") if current else None
    context.log.info(f"promotion gate: {verdict.reason}; champion is version {info['champion_version']} ({champ})")
    registered = f"models:/{mlflow.registered_model_name}@champion"
    yield from checked_output(
        "champion_model", info, pd.DataFrame([verdict.flat()]), contracts.GATE_SCHEMA,
        metadata=gate_metadata(verdict, info, registered, statbank.data_label(), verdicts),
    )
