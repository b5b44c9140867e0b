"""`speed.py`'s cold denominator: the same domain work as the graph's assets, as plain calls in a fresh process.

    .venv/bin/python benchmarks/_direct.py    # prints the step times as one JSON line

`speed.py --only cold` runs it (as `speed.py --direct`) after each cold run, under the same load.
"""

from __future__ import annotations

import json
import time

import _common  # noqa: F401 — first: puts the repository on sys.path


def _raw_frames(client) -> tuple[dict, dict]:
    """The raw assets' frames per period: {"KONK4"|"KONK25": {month: frame}}, {year: DEMO14 frame}."""
    import pandas as pd

    from sector_forecast.domain.sectors import ACTIVE_ENTERPRISES

    def raw(table: str, codes: str, first: str, **extra: list[str]) -> dict[str, pd.DataFrame]:
        last = client.table_meta(table)["latestPeriod"]
        frame = client.data(table, {codes: ["*"], **extra, "Tid": [f">={first}<={last}"]})
        value = pd.to_numeric(frame["INDHOLD"], errors="coerce")
        frame = frame.assign(period=frame["TID"].astype(str), suppressed=frame["suppressed"].astype(bool))
        return {p: f.reset_index(drop=True) for p, f in frame.assign(value=value).groupby("period")}

    konk = {t: {p: pd.DataFrame({c.lower(): f[c].astype(str), "virktyp1": f["VIRKTYP1"].astype(str), "period": p,
                                  "bankruptcies": f["value"].astype("Int64"), "suppressed": f["suppressed"]})
                for p, f in raw(t, c, "2009M01", VIRKTYP1=[ACTIVE_ENTERPRISES]).items()}
            for t, c in (("KONK4", "BRANCHE"), ("KONK25", "BRANCHE25"))}  # fmt: skip
    births = {int(y): pd.DataFrame({"region": f["REGION"].astype(str), "branchedb0710": f["BRANCHEDB0710"].astype(str),
                                    "maengde4": f["MÆNGDE4"].astype(str), "period": y, "value": f["value"],
                                    "suppressed": f["suppressed"]})
              for y, f in raw("DEMO14", "BRANCHEDB0710", "2019", REGION=["000"], MÆNGDE4=["*"]).items()}  # fmt: skip
    return konk, births


def direct_calls() -> dict[str, float]:
    """What the assets call (StatBank client, domain functions) for the same partitions, timed by step.

    Left out on purpose: Dagster, MLflow logging and packaging, Parquet IO, contracts, metadata and plots.
    Imports are timed too (this runs in a fresh process), as they count in the CLI's run.
    """
    started = mark = time.perf_counter()
    steps: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal mark
        steps[name], mark = time.perf_counter() - mark, time.perf_counter()

    import pandas as pd

    from sector_forecast.domain import (
        calibration,
        drift,
        features,
        forecasters,
        gate,
        horizons,
        metrics,
        monitoreval,
        panel,
        score,
        scorecast,
    )
    from sector_forecast.domain.features import HORIZONS
    from sector_forecast.domain.sectors import KONK4_TO_SECTOR, KONK25_TO_SECTOR
    from sector_forecast.statbank import StatBankClient

    lap("imports")
    konk, births = _raw_frames(StatBankClient())  # the bundled snapshot, as `sector-forecast run` without a URL
    lap("raw frames")
    rows = []
    for quarter in sorted({panel.month_quarter(m) for m in konk["KONK25"]}):
        months = panel.quarter_months(quarter)
        if not all(m in konk["KONK25"] for m in months):
            continue
        new = panel.quarterly_bankruptcies([konk["KONK25"][m] for m in months], "branche25", KONK25_TO_SECTOR,
                                           quarter=quarter)  # fmt: skip
        old_months = [konk["KONK4"][m] for m in months if m in konk["KONK4"]]
        old = (panel.quarterly_bankruptcies(old_months, "branche", KONK4_TO_SECTOR, quarter=quarter)
               if old_months else None)  # KONK4 closed at 2025M12
        known = {y: f for y, f in births.items() if y <= panel.quarter_year(quarter)}
        rows.append(panel.build_panel(new, panel.quarterly_births(known, quarter), old))
    frame = score.panel_scores(pd.concat(rows, ignore_index=True))[panel.PANEL_COLUMNS]
    quarters = sorted(frame["quarter"].unique())
    feats = features.build_features(frame, quarters)
    lap("panel + features")
    origins = [q for q in quarters if q >= "2012Q1"]  # FIRST_ORIGIN of defs/partitions.py
    frames = horizons.horizon_frames(feats)  # the fit assets: every model, origin and horizon (1-4, direct)
    fits = [horizons.fit_horizons(name, feats, origin, frames=frames)
            for name in forecasters.MODELS for origin in origins]
    lap(f"fits ({len(forecasters.MODELS)} models x {len(origins)} origins x horizons {min(HORIZONS)}-{max(HORIZONS)})")
    # backtest_leaderboard: calibration per horizon, leaderboards, the score backtest; champion_model: the gate
    predictions = horizons.attach_actuals(pd.concat([f[1] for f in fits], ignore_index=True), frame)
    all_validation = pd.concat([f[2] for f in fits], ignore_index=True)
    by_horizon = calibration.calibrate_horizons(predictions, all_validation)
    calibrated, validation = horizons.one_step(by_horizon), horizons.one_step(all_validation)
    horizons.leaderboards(by_horizon)
    scores = scorecast.score_backtest(calibrated, frame, validation)
    metrics.leaderboard(calibrated, target="bankruptcies")
    metrics.leaderboard(scores, target="score")
    champion = gate.promotion_gate(calibrated, forecasters.BASELINES, alpha=0.10).champion
    rows = calibrated[calibrated["model"] == champion]
    counts = frame[["sector", "quarter", "bankruptcies"]]
    # monitor_evaluation and drift_report's statistics
    monitoreval.evaluate_monitors(counts, rows, origins[0])
    for quarter in origins:
        drift.data_drift(counts, quarter)
        current = rows[rows["target_quarter"].astype(str) == quarter][["sector", "prediction"]].merge(
            counts[counts["quarter"] == quarter].rename(columns={"bankruptcies": "actual"}), on="sector", how="left")
        drift.performance_degradation(rows, current, quarter)
    lap("leaderboard, scores, gate, monitors")
    steps["total"] = time.perf_counter() - started
    return steps


if __name__ == "__main__":
    print(json.dumps(direct_calls()))
