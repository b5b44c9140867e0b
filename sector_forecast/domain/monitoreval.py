"""The monitors measured out of sample: false alarms on simulated null panels, detection on a grid of shifts.

What ``monitor_evaluation`` computes (``defs/assets/monitoring.py``), from the bundled counts and the
champion's real-time backtest forecasts:

- **false alarms, simulated**: ``SIM_PANELS`` panels from the null model fitted to the counts
  (``nullmodel.py``), on the bundled calendar (same quarters, monitoring from the first origin, forecasts
  judged from the champion's first target). Every alarm there is false. Per monitor: alarms / quarters it
  could test, pooled, and the spread over panels.
- **detection, bundled data**: the grid of ``monitorgrid.py`` (10 sectors and all at once × 1.5, 2, 3 × the
  shift's first month in the quarter) on the real counts and the champion's forecasts, shifts starting in
  every quarter where both monitors can test it and its next quarter (outside the known 2020–21 shift).
- **detection, simulated**: the same grid on ``SIM_GRID_PANELS`` null panels (where a design is chosen; the
  bundled figures are the ones reported).

The design is not tuned here: levels, window and statistics are ``drift.py``'s. Seeded: a re-run on the same
inputs gives the same figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sector_forecast.domain import drift
from sector_forecast.domain import monitorgrid as mg
from sector_forecast.domain import monitorvec as mv
from sector_forecast.domain import nullmodel as nm
from sector_forecast.domain.hypothesis import min_reference

SIM_PANELS = 200
SIM_GRID_PANELS = 2
SEED = 20261206
MONITORS = drift.MONITORS


@dataclass
class MonitorEvaluation:
    """Figures of the monitors out of sample; ``grid`` has one row per scenario on the bundled data."""

    null_model: dict[str, Any]
    simulated: pd.DataFrame  # per monitor: alarms, quarters, rate, panel quantiles
    grid: pd.DataFrame  # bundled scenarios (``GRID_COLUMNS`` with quarter and sector labels)
    shares: pd.DataFrame  # bundled: share detected per shift kind and factor, per monitor
    shares_simulated: pd.DataFrame
    levels: dict[str, float] = field(default_factory=dict)

    def to_value(self) -> dict[str, Any]:
        """The stored value: plain figures inline, tables as DataFrames (Parquet beside the JSON)."""
        return {"null_model": self.null_model, "levels": self.levels, "simulated": self.simulated,
                "grid": self.grid, "shares": self.shares, "shares_simulated": self.shares_simulated,
                "sim_panels": SIM_PANELS, "sim_grid_panels": SIM_GRID_PANELS, "seed": SEED}


def panel_arrays(counts: pd.DataFrame, champion_rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts, forecasts) as quarter × sector matrices on the same index (NaN: suppressed / no forecast)."""
    wide = np.expm1(drift.log_counts(counts))
    rows = champion_rows.dropna(subset=["prediction"]).astype({"sector": "int64"})
    mu = rows.pivot_table(index="target_quarter", columns="sector", values="prediction", aggfunc="first")
    return wide, mu.reindex(index=wide.index, columns=wide.columns).astype("float64")


def _levels(levels: tuple[float, float]) -> dict[str, float]:
    """Each monitor's level from (data drift, performance): the common level is tested at the data-drift level."""
    return {"data_drift": levels[0], "common_level": levels[0], "performance_degradation": levels[1]}


def simulated_false_alarms(model: nm.NullModel, quarters: list[str], first_monitored: int, first_forecast: int,
                           levels: tuple[float, float], panels: int = SIM_PANELS, seed: int = SEED
                           ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per-monitor false alarms on ``panels`` null panels; also the simulated (counts, forecasts)."""
    counts, mu = nm.simulate(model, panels, quarters[0], len(quarters), seed)
    mu[:, :first_forecast] = np.nan
    rejected, tested = mv.data_drift_rejections(counts, levels[0], drift.HISTORY_QUARTERS, drift.MIN_HISTORY)
    perf, testable, _ = mv.performance_alarms(counts, mu, levels[1], drift.MIN_SCALE_RESIDUALS)
    monitors = {"data_drift": (rejected[..., :-1].any(axis=-1), tested[..., :-1].any(axis=-1)),
                "common_level": (rejected[..., -1], tested[..., -1]), "performance_degradation": (perf, testable)}
    rows = []
    for name, (alarm, can) in monitors.items():
        can[:, :first_monitored] = False
        hits, n = (alarm & can).sum(axis=1), can.sum(axis=1)
        per_panel = hits / np.maximum(n, 1)
        rows.append({"monitor": name, "level": _levels(levels)[name], "panels": panels,
                     "quarters": int(n.sum()), "quarters_per_panel": int(n.max()), "alarms": int(hits.sum()),
                     "rate": float(hits.sum() / n.sum()) if n.sum() else math.nan,  # NaN: nothing testable
                     "panel_rate_median": float(np.median(per_panel)),
                     "panel_rate_p90": float(np.quantile(per_panel, 0.9)),
                     "panels_over_10pct": float(np.mean(per_panel > 0.10))})
    return pd.DataFrame(rows), counts, mu


def grid_starts(wide: pd.DataFrame, mu: pd.DataFrame, level: float, excluded: set[str]) -> list[int]:
    """Quarters a shift may start in: it and the next are graded, outside ``excluded``, and both monitors test it."""
    stat, _ = mv.performance_statistics(wide.to_numpy(), mu.to_numpy(), drift.MIN_SCALE_RESIDUALS)
    _, n = mv.rank_pvalues(stat)
    labels = list(wide.index)
    graded = (np.isfinite(wide.to_numpy()).all(axis=1) & np.isfinite(mu.to_numpy()).all(axis=1))
    return [i for i in range(len(labels) - 1)
            if graded[i] and graded[i + 1] and labels[i] not in excluded and labels[i + 1] not in excluded
            and n[i] >= min_reference(level) and i >= drift.HISTORY_QUARTERS]


def _labelled(grid: pd.DataFrame, quarters: list[str], sectors: list[int]) -> pd.DataFrame:
    out = grid.assign(start=pd.Series([quarters[i] for i in grid["start"]], index=grid.index, dtype=object))
    out["sector"] = pd.array([None if s == mg.ALL else sectors[s] for s in grid["sector"]], dtype="Int64")
    return out


def evaluate_monitors(counts: pd.DataFrame, champion_rows: pd.DataFrame, first_monitored: str,
                      levels: tuple[float, float] = (drift.DATA_DRIFT_LEVEL, drift.PERFORMANCE_LEVEL),
                      excluded: tuple[str, ...] = drift.KNOWN_SHIFTS) -> MonitorEvaluation:
    """All figures from ``sector, quarter, bankruptcies`` rows and the champion's backtest rows.

    ``first_monitored``: the first quarter with a drift report (the first forecast origin).
    """
    wide, mu = panel_arrays(counts, champion_rows)
    quarters, sectors = list(wide.index), [int(s) for s in wide.columns]
    model = nm.fit_null_model(wide, set(excluded))
    graded = np.flatnonzero(np.isfinite(mu.to_numpy()).any(axis=1))
    first_forecast = int(graded[0]) if len(graded) else len(quarters)
    start = quarters.index(first_monitored) if first_monitored in quarters else 0
    simulated, sim_counts, sim_mu = simulated_false_alarms(model, quarters, start, first_forecast, levels)
    # A short history (a young instance, a cut snapshot) has no quarter where both monitors can test a shift:
    # the grid is then empty and says so, the simulated false alarms still stand.
    starts = grid_starts(wide, mu, levels[1], set(excluded))
    args = (levels, drift.HISTORY_QUARTERS, drift.MIN_HISTORY, drift.MIN_SCALE_RESIDUALS)
    grid = mg.detection_grid(wide.to_numpy(), mu.to_numpy(), starts, *args)
    sim_grid = mg.detection_grid(sim_counts[:SIM_GRID_PANELS], sim_mu[:SIM_GRID_PANELS], starts, *args)
    return MonitorEvaluation(model.describe(), simulated, _labelled(grid, quarters, sectors),
                             mg.detection_shares(grid), mg.detection_shares(sim_grid),
                             _levels(levels))


# The grid's columns by the monitor they stand for: an all-sector shift's data test is the common level's.
_GRID_MONITORS = {"one sector": {"data_drift": "data_drift", "performance": "performance"},
                  "all sectors": {"common_level": "data_drift", "performance": "performance"}}


def _rounded(value: float) -> float | None:
    return None if math.isnan(float(value)) else round(float(value), 4)


def _by_factor(shares: pd.DataFrame, kind: str, column: str) -> dict[str, float]:
    rows = shares[shares["shift"] == kind]
    return {f"{f:g}": round(float(v), 4) for f, v in zip(rows["factor"], rows[column], strict=True)}


def evaluation_summary(value: dict[str, Any] | None) -> dict[str, Any]:
    """``drift`` keys from ``monitor_evaluation``'s stored value (empty when it has not run)."""
    if not value:
        return {}
    sim = value["simulated"].set_index("monitor")
    shares, grid = value["shares"], value["grid"]
    return {
        "false_alarm_rate_simulated": {m: {"rate": _rounded(sim.at[m, "rate"]),
                                           "quarters": int(sim.at[m, "quarters"]), "panels": int(sim.at[m, "panels"]),
                                           "panel_rate_p90": round(float(sim.at[m, "panel_rate_p90"]), 4)}
                                       for m in sim.index},
        "detection": {**_by_factor(shares, "one sector", "detected"),
                      "all_sectors": _by_factor(shares, "all sectors", "detected"),
                      "by_monitor": {f"{kind.replace(' ', '_')}_{name}": _by_factor(shares, kind, column)
                                     for kind, monitors in _GRID_MONITORS.items() for name, column in monitors.items()},
                      "scenarios": int(len(grid)), "start_quarters": sorted(set(grid["start"].astype(str)))},
        "null_model": value["null_model"],
    }
