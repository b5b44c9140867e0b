"""The cold run's domain work as plain calls in one process: the denominator of the orchestration ratio.

    .venv/bin/python benchmarks/_speed_direct.py        # prints {"step": seconds, ...} as JSON

Why: `sector-forecast run` wall time alone cannot say how much is orchestration. This calls what each asset
in sector_forecast/defs/assets/ calls — the StatBank client and the pure functions of sector_forecast.domain —
on the bundled snapshot, for the same partitions: raw frames -> panel -> features -> every model's fit per
origin -> calibration and leaderboard -> champion gate -> forecasts -> drift statistics per origin. Left out
on purpose: Dagster, MLflow logging and model packaging, Parquet IO, Pandera contracts, metadata and plots.
Run in a fresh process and timed from its start, so imports count as they do in the CLI's run.
"""

from __future__ import annotations

import json
import time

STARTED = time.perf_counter()

import pandas as pd  # noqa: E402  (imports are part of the timed work, after STARTED)

from sector_forecast.domain import (  # noqa: E402
    calibration,
    drift,
    evidence,
    features,
    metrics,
    models,
    panel,
    score,
    scorecast,
)
from sector_forecast.domain.periods import quarter_offset  # noqa: E402
from sector_forecast.domain.sectors import (  # noqa: E402
    ACTIVE_ENTERPRISES,
    KONK4_TO_SECTOR,
    KONK25_TO_SECTOR,
)
from sector_forecast.statbank import StatBankClient  # noqa: E402

FIRST_ORIGIN = "2012Q1"  # as sector_forecast/defs/partitions.py: three years of training rows
GATE_ALPHA = 0.10  # as the champion_model asset


def konk(client: StatBankClient, table: str, code_var: str) -> dict[str, pd.DataFrame]:
    """One BULK request for every published month, split per month (as the raw asset does)."""
    first, last = "2009M01", client.table_meta(table)["latestPeriod"]  # HISTORY_START of the partitions
    frame = client.data(table, {code_var: ["*"], "VIRKTYP1": [ACTIVE_ENTERPRISES], "Tid": [f">={first}<={last}"]})
    frame = pd.DataFrame({code_var.lower(): frame[code_var].astype(str), "virktyp1": frame["VIRKTYP1"].astype(str),
                          "period": frame["TID"].astype(str),
                          "bankruptcies": pd.to_numeric(frame["INDHOLD"], errors="coerce").astype("Int64"),
                          "suppressed": frame["suppressed"].astype(bool)})  # fmt: skip
    return {p: part.reset_index(drop=True) for p, part in frame.groupby("period", sort=True)}


def demo14(client: StatBankClient) -> dict[int, pd.DataFrame]:
    last = str(client.table_meta("DEMO14")["latestPeriod"])
    frame = client.data("DEMO14", {"REGION": ["000"], "BRANCHEDB0710": ["*"], "MÆNGDE4": ["*"],
                                   "Tid": [f">=2019<={last}"]})  # fmt: skip
    frame = pd.DataFrame({"region": frame["REGION"].astype(str), "branchedb0710": frame["BRANCHEDB0710"].astype(str),
                          "maengde4": frame["MÆNGDE4"].astype(str), "period": frame["TID"].astype(str),
                          "value": pd.to_numeric(frame["INDHOLD"], errors="coerce").astype("float64"),
                          "suppressed": frame["suppressed"].astype(bool)})  # fmt: skip
    return {int(y): part.reset_index(drop=True) for y, part in frame.groupby("period", sort=True)}


def build_panel(k25: dict, k4: dict, births: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Every complete quarter, as `quarterly_panel` over its whole range."""
    quarters = sorted({panel.month_quarter(m) for m in k25})
    rows = []
    for quarter in quarters:
        months = panel.quarter_months(quarter)
        if not all(m in k25 for m in months):
            continue
        bankruptcies = panel.quarterly_bankruptcies([k25[m] for m in months], "branche25", KONK25_TO_SECTOR,
                                                    quarter=quarter)  # fmt: skip
        try:
            old = panel.quarterly_bankruptcies([k4[m] for m in months if m in k4], "branche", KONK4_TO_SECTOR,
                                               quarter=quarter)  # fmt: skip
        except ValueError:
            old = None  # KONK4 closed at 2025M12
        known = {y: f for y, f in births.items() if y <= panel.quarter_year(quarter)}
        rows.append(panel.build_panel(bankruptcies, panel.quarterly_births(known, quarter), old))
    return score.panel_scores(pd.concat(rows, ignore_index=True))[panel.PANEL_COLUMNS]


def main() -> None:
    steps: dict[str, float] = {"imports": time.perf_counter() - STARTED}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        steps[name] = time.perf_counter() - mark
        mark = time.perf_counter()

    client = StatBankClient()  # the bundled snapshot in-process, as `sector-forecast run` without a URL
    k4, k25, births = konk(client, "KONK4", "BRANCHE"), konk(client, "KONK25", "BRANCHE25"), demo14(client)
    lap("raw frames (StatBank client)")
    frame = build_panel(k25, k4, births)
    lap("panel")
    quarters = sorted(frame["quarter"].unique())
    feats = features.build_features(frame, quarters)
    lap("features")
    origins = [q for q in quarters if q >= FIRST_ORIGIN]
    fitted: dict[tuple[str, str], object] = {}
    preds, vals = [], []
    for name in models.MODELS:
        for origin in origins:
            model, pred = models.rolling_origin_fit(name, feats, origin)
            fitted[name, origin] = model
            preds.append(pred)
            vals.append(models.validation_frame(model, origin))
    predictions, validation = pd.concat(preds, ignore_index=True), pd.concat(vals, ignore_index=True)
    lap(f"fits ({len(models.MODELS)} models x {len(origins)} origins)")
    calibrated = calibration.calibrate_backtest(predictions, validation)
    scores = scorecast.score_backtest(calibrated, frame, validation)
    metrics.leaderboard(calibrated, target="bankruptcies")
    metrics.leaderboard(scores, target="score")
    score.score_distribution(frame)
    lap("calibration + leaderboard")
    gate = evidence.promotion_gate(calibrated, alpha=GATE_ALPHA)
    champ = gate.champion
    quantiles, _ = calibration.live_quantiles(calibrated, champ, validation)
    lap("champion gate")
    origin = origins[-1]
    rows = feats[feats["quarter"] == origin].sort_values("sector", ignore_index=True)
    result = fitted[champ, origin].predict(rows)
    mu = dict(zip(result["sector"].astype(int), result["prediction"].astype(float), strict=True))
    for coverage in calibration.COVERAGES:  # the served model's intervals, as tracking/pyfunc.py computes them
        q = result["sector"].astype(int).map(lambda s, c=coverage: quantiles[s][c])
        calibration.interval_bounds(result["prediction"].to_numpy(float), q.to_numpy(float))
    residuals = calibration.residual_pool(calibrated, champ, origin, validation)
    scorecast.score_forecast(origin, mu, residuals, frame)
    scorecast.births_at_origin(frame, origin, quarter_offset(origin, 1))
    lap("forecasts")
    champion_rows = calibrated[calibrated["model"] == champ]
    counts = frame[["sector", "quarter", "bankruptcies"]]
    for quarter in origins:
        drift.data_drift(counts, quarter)
        current = champion_rows[champion_rows["target_quarter"].astype(str) == quarter][["sector", "prediction"]]
        current = current.merge(counts[counts["quarter"] == quarter].rename(columns={"bankruptcies": "actual"}),
                                on="sector", how="left")  # fmt: skip
        drift.performance_degradation(champion_rows, current, quarter)
    lap(f"drift statistics ({len(origins)} origins)")
    steps["total"] = time.perf_counter() - STARTED
    print(json.dumps(steps))


if __name__ == "__main__":
    main()
