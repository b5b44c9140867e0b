"""What the evaluation assets show in the UI: `backtest_leaderboard`'s and `champion_model`'s metadata.

Kept apart from the assets (`assets/evaluation.py`) so that each asset reads as its steps — grade, gate,
log, register — while what an analyst reads about them (tables, markdown, the errors plot) is built here.
"""

import dagster as dg
import pandas as pd

from sector_forecast.defs.metadata import figure_markdown, markdown_table, number
from sector_forecast.domain import forecasters, gate
from sector_forecast.reports import plots


def leaderboard_metadata(value: dict, overall: pd.DataFrame, per_sector: pd.DataFrame, label: str) -> dict:
    """`backtest_leaderboard`'s page: the leaderboards, coverage, gaps, tuning paths, errors and the score's shape.

    ``overall`` and ``per_sector`` are the bankruptcy forecasts' tables (``value`` holds them with the score's).
    """
    board, calibrated, runs = value["overall"], value["predictions"], value["runs"]
    missing = _missing(calibrated)
    at_zero = int((calibrated["lower80"] <= 0).sum())
    return {
        "dagster/row_count": dg.MetadataValue.int(len(board)),
        "graded_origins": dg.MetadataValue.text(_span(calibrated)),
        "graded_score_origins": dg.MetadataValue.text(_span(value["score_predictions"])),
        "leaderboard": dg.MetadataValue.md(markdown_table(board)),
        "leaderboard_by_horizon": dg.MetadataValue.md(
            markdown_table(_horizon_table(value["overall_by_horizon"]), max_rows=40)),
        "per_sector_coverage": dg.MetadataValue.md(markdown_table(_coverage_table(per_sector), max_rows=80)),
        "missing_forecasts": dg.MetadataValue.md(
            markdown_table(missing) if len(missing) else "Every model forecast every sector at every origin."),
        "tuning_paths": dg.MetadataValue.md(markdown_table(_tuning_paths(runs))),
        "lower_bounds_at_zero": dg.MetadataValue.md(
            f"{at_zero} of {len(calibrated)} 80% lower bounds are 0: a count cannot be negative, so the "
            "interval starts at the support's edge (stated, not hidden)."),
        "errors_by_origin": figure_markdown(plots.errors_by_origin(calibrated, label), "Scaled error by origin"),
        "score_distribution": dg.MetadataValue.md(markdown_table(value["score_distribution"])),
        "score_season": dg.MetadataValue.md(_season_markdown(value["score_season"], value["score_drivers"])),
        "data": dg.MetadataValue.text(label),
        "best_model": dg.MetadataValue.text(str(overall.iloc[0]["model"])),
    }


def _span(frame: pd.DataFrame) -> str:
    """The graded origins of a backtest frame: first..last (how many), or none."""
    origins = sorted(frame.dropna(subset=["actual"])["origin"].unique())
    return f"{origins[0]}..{origins[-1]} ({len(origins)})" if origins else "none"


def _coverage_table(per_sector: pd.DataFrame) -> pd.DataFrame:
    """Per model and sector: how often the intervals held the published count, and the point scores."""
    cols = ["model", "sector", "n", "coverage80", "coverage95", "interval_score", "mase"]
    return per_sector[cols]


def _tuning_paths(runs: pd.DataFrame) -> pd.DataFrame:
    """Per challenger: how often the chosen hyper-parameters changed from one origin to the next, and to what."""
    rows = []
    for name in forecasters.CHALLENGERS:
        path = runs[runs["model"] == name]["parameters"]
        if len(path):
            rows.append({"model": name, "origins": len(path), "changes": int((path != path.shift()).sum() - 1),
                         "chosen (origins)": ", ".join(f"{p} ({n})" for p, n in path.value_counts().items())})
    return pd.DataFrame(rows)


def _horizon_table(overall: pd.DataFrame) -> pd.DataFrame:
    """The per-horizon leaderboard as the asset page shows it: horizon, rank, model and the headline scores."""
    return overall[["horizon", "rank", "model", "n", "mase", "mae", "coverage80", "coverage95", "interval_score"]]


def _missing(calibrated: pd.DataFrame) -> pd.DataFrame:
    """Sector forecasts a model could not make (a baseline's input unknown), per model and sector."""
    gaps = calibrated[calibrated["prediction"].isna()]
    if gaps.empty:
        return pd.DataFrame({"model": [], "sector": [], "origins_missing": []})
    return gaps.groupby(["model", "sector"]).size().rename("origins_missing").reset_index()


def _season_markdown(season: dict, drivers: dict) -> str:
    """Whether the score has a season, and what drives it, in two sentences."""
    means = " · ".join(f"{q} {m:.2f}" for q, m in season["means"].items())
    return (f"Published scores by quarter of year ({season['n']}): {means}; Kruskal–Wallis p = "
            f"{season['pvalue']:.3f} (p > 0.10: no sign of a season). What drives the score: correlation "
            f"{drivers['corr_bankruptcies_only']:.2f} with the same percentile of bankruptcies alone, "
            f"{drivers['corr_births_only']:.2f} with births alone (n = {drivers['n']}).")


def gate_metadata(
    decision: gate.GateDecision, info: dict, registered: str, label: str, verdicts: dict[int, gate.GateDecision]
) -> dict:
    """`champion_model`'s page: the decision and why, the gate's statistics per horizon, what is registered."""
    flat = pd.DataFrame([decision.flat()]).drop(columns="reason")
    challengers = pd.DataFrame(list(decision.challengers)) if decision.challengers else pd.DataFrame()
    return {
        "champion": dg.MetadataValue.text(info["champion"]),
        "decision": dg.MetadataValue.text(info["decision"]),
        "reason": dg.MetadataValue.text(decision.reason),
        "gate_statistic": number(decision.statistic),
        "gate_pvalue": number(decision.pvalue),
        "gate_pvalue_holm": number(decision.pvalue_holm),
        "gate": dg.MetadataValue.md(markdown_table(flat)),
        "challengers": dg.MetadataValue.md(markdown_table(challengers) if len(challengers) else "none"),
        "baselines": dg.MetadataValue.text(", ".join(decision.baselines)),
        "champion_version": dg.MetadataValue.text(str(info["champion_version"])),
        "registered_model": dg.MetadataValue.text(registered),
        "interval_quantiles": dg.MetadataValue.json(info["quantiles"]),
        "gate_run_id": dg.MetadataValue.text(info["gate_run_id"]),
        "data": dg.MetadataValue.text(label),
        "gate_by_horizon": dg.MetadataValue.md(markdown_table(_gates_table(verdicts))),
    }


def _gates_table(verdicts: dict[int, gate.GateDecision]) -> pd.DataFrame:
    """One row per horizon: best challenger vs best baseline, DM/HLN p-values (h−1 autocovariances), verdict."""
    return pd.DataFrame([{"horizon": h, "winner": v.champion, "candidate": v.candidate, "baseline": v.baseline,
                          "candidate_mase": v.candidate_mase, "baseline_mase": v.baseline_mase, "pvalue": v.pvalue,
                          "pvalue_holm": v.pvalue_holm, "promoted": v.promoted} for h, v in verdicts.items()])
