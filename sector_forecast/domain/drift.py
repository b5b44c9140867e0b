"""Monitors that are right when they speak: three tests a quarter, each with a stated false-alarm rate.

The reference design KS-tested 16 features at p < 0.15 without multiple-testing control and alarmed in 14 of
23 quarters of stationary data. Here each test's level is a false-alarm probability (reasons and
measurements: docs/monitoring.md):

**Data drift** (level ``DATA_DRIFT_LEVEL``). Ten hypotheses, Benjamini–Hochberg across them: per sector s,
its *relative* log count x = log1p(y_s,q) − median over the *other* sectors of log1p(y_·,q) against its
previous ``HISTORY_QUARTERS`` quarters, by a prediction-interval t-test t = (x − mean) / (sd · sqrt(1 + 1/n)),
Student t with n − 1 df, two-sided. Relative, because the sectors share one business cycle (all ten level
tests would fire together, which BH cannot discount); leave-one-out, because a median that includes the
sector makes x heavy-tailed. BH is the Simes test of the global null: any rejection at most the level.

**Common level** (level ``COMMON_LEVEL_LEVEL``, the data-drift level): the median of all ten log counts by
the same test, on its own. As the eleventh hypothesis of the BH family above it needed p ≤ level/11 when
alone, so an all-sector shift had to be about twice the size to be seen (chosen on the simulated panels
of ``monitoreval.py``).

**Performance degradation** (level ``PERFORMANCE_LEVEL``). The champion's errors for target q (its forecast
made at q − 1) as Pearson residuals r = (y − μ)/sqrt(μ + 1), each divided by the sector's RMS residual over
targets before q; the statistic is the largest squared one over the sectors (one broken sector must not be
averaged away), its conformal p-value its rank among the same statistic of every earlier quarter:
p = (1 + #{earlier ≥ current}) / (1 + n). Exact under exchangeability; it reaches the level only with
n ≥ 1/level − 1 earlier quarters ("not testable yet" before that).

An alarm in a quarter is any monitor's: its nominal rate is at most the sum of the levels (union bound).
The tests themselves are ``hypothesis.py``; ``reports/drift_pages.py`` renders the result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sector_forecast.domain.calibration import pearson_residual
from sector_forecast.domain.hypothesis import (
    benjamini_hochberg,
    conformal_pvalue,
    min_reference,
    prediction_interval_test,
)
from sector_forecast.domain.periods import quarter_offset, quarter_range

DATA_DRIFT_LEVEL = 0.05
COMMON_LEVEL_LEVEL = DATA_DRIFT_LEVEL  # its own test, at the same level
PERFORMANCE_LEVEL = 0.05
HISTORY_QUARTERS = 12  # three years: enough for a variance, short enough to follow slow change
MIN_HISTORY = 8  # fewer finite history values: the hypothesis is not tested
MIN_SCALE_RESIDUALS = 8  # residuals a sector needs before its errors can be standardised
COMMON = "all sectors"
MONITORS = ("data_drift", "common_level", "performance_degradation")
LEVELS = {"data_drift": DATA_DRIFT_LEVEL, "common_level": COMMON_LEVEL_LEVEL,
          "performance_degradation": PERFORMANCE_LEVEL}
# Known shifts, excluded from the false-alarm rate: COVID-19 lockdowns from March 2020 and the Danish
# compensation and tax-deferral schemes held bankruptcies down, then released them, through 2021 (the
# bundled data's 2020–21 dip). Alarms there are right, so they do not count as false.
KNOWN_SHIFTS: tuple[str, ...] = tuple(quarter_range("2020Q1", "2021Q4"))


# ---- data drift -----------------------------------------------------------------------------------------

DATA_DRIFT_COLUMNS = ["hypothesis", "sector", "value", "n_history", "history_mean", "history_sd", "t_stat",
                      "p_value", "bh_threshold", "rejected"]


@dataclass
class DataDriftResult:
    """One quarter's eleven tests (ten sectors under BH, the common level on its own), verdicts, a sentence."""

    quarter: str
    level: float
    table: pd.DataFrame
    alarm: bool  # a sector's relative level moved (BH over the ten)
    summary: str
    series: pd.DataFrame  # quarters × hypotheses: the tested values, history then the quarter (for plots)
    common_alarm: bool = False  # the common level moved (its own test, at ``level`` too)

    def pvalues(self) -> tuple[float, float]:
        """(smallest sector p-value, the common level's p-value): NaN where nothing was tested."""
        common = self.table["sector"].isna()
        return float(self.table.loc[~common, "p_value"].min()), float(self.table.loc[common, "p_value"].min())

    def to_dict(self) -> dict[str, Any]:
        return {"quarter": self.quarter, "level": self.level, "alarm": self.alarm,
                "common_alarm": self.common_alarm, "summary": self.summary,
                "rejected": self.table.loc[self.table["rejected"], "hypothesis"].tolist(),
                "tests": self.table.to_dict("records")}


def log_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """quarter × sector matrix of log1p(bankruptcies) from long ``sector, quarter, bankruptcies`` rows."""
    values = pd.to_numeric(counts["bankruptcies"].astype("Float64"), errors="coerce").astype("float64")
    return counts.assign(v=np.log1p(values)).pivot(index="quarter", columns="sector", values="v").sort_index()


def data_drift(
    counts: pd.DataFrame, quarter: str, level: float = DATA_DRIFT_LEVEL,
    history: int = HISTORY_QUARTERS, min_history: int = MIN_HISTORY,
) -> DataDriftResult:
    """Test ``quarter``'s bankruptcies (``sector, quarter, bankruptcies`` rows) against the quarters before it.

    Only quarters from ``quarter − history`` to ``quarter`` are read, so a replay of an old quarter never
    sees later data. A suppressed count leaves its sector untested; the common level needs every sector and
    is tested on its own at ``level``, outside the sectors' BH family.
    """
    quarters = quarter_range(quarter_offset(quarter, -history), quarter)
    wide = log_counts(counts[counts["quarter"].isin(quarters)]).reindex(quarters)
    centre = wide.median(axis=1, skipna=True)
    level_series = centre.where(wide.notna().all(axis=1))
    relative = wide.apply(lambda col: col - wide.drop(columns=col.name).median(axis=1, skipna=True))
    series = {f"sector {s}": (int(s), relative[s]) for s in wide.columns}
    series[COMMON] = (None, level_series)
    rows = []
    for name, (sector, values) in series.items():
        past = values.iloc[:-1].to_numpy(dtype="float64")
        n = int(np.isfinite(past).sum())
        current = float(values.iloc[-1])
        t, p = prediction_interval_test(past, current) if n >= min_history else (math.nan, math.nan)
        rows.append({"hypothesis": name, "sector": sector, "value": current, "n_history": n,
                     "history_mean": float(np.nanmean(past)) if n else math.nan,
                     "history_sd": float(np.nanstd(past, ddof=1)) if n > 1 else math.nan, "t_stat": t,
                     "p_value": p})
    table = pd.DataFrame(rows)
    table["sector"] = table["sector"].astype("Int64")
    sectors = table["sector"].notna().to_numpy()
    table["rejected"] = False
    table.loc[sectors, "rejected"] = benjamini_hochberg(table.loc[sectors, "p_value"].to_numpy(), level)
    table.loc[~sectors, "rejected"] = (table.loc[~sectors, "p_value"] <= level).to_numpy()
    tested = table["p_value"].notna()
    ranks = table.loc[tested & sectors, "p_value"].rank(method="first")
    table["bh_threshold"] = level * ranks.reindex(table.index) / max(int((tested & sectors).sum()), 1)
    table.loc[~sectors, "bh_threshold"] = level  # not in the BH family: the level itself
    table = table[DATA_DRIFT_COLUMNS]
    hits = table.loc[table["rejected"] & sectors, "hypothesis"].tolist()
    common = table[~sectors].iloc[0]
    if not tested.any():
        summary = f"{quarter}: not testable (fewer than {min_history} history quarters)"
    else:
        summary = (f"{quarter}: {len(hits)} of {int((tested & sectors).sum())} sectors rejected (Benjamini–Hochberg "
                   f"at {level:g}, previous {history} quarters)" + (f": {', '.join(hits)}" if hits else ""))
        summary += ("; common level not testable (a sector suppressed or too little history)"
                    if pd.isna(common["p_value"]) else
                    f"; common level p = {common['p_value']:.3f} {'≤' if common['rejected'] else '>'} "
                    f"{level:g}")
    frame = pd.DataFrame({name: values for name, (_, values) in series.items()})
    return DataDriftResult(quarter, level, table, bool(hits), summary, frame, bool(common["rejected"]))


# ---- performance degradation -----------------------------------------------------------------------------

PERFORMANCE_COLUMNS = ["sector", "prediction", "actual", "residual", "residual_scale", "z"]


@dataclass
class PerformanceResult:
    """The champion's errors for one target quarter, standardised, and their rank among earlier quarters."""

    quarter: str
    level: float
    statistic: float
    p_value: float
    n_reference: int
    testable: bool
    alarm: bool
    table: pd.DataFrame
    reference: pd.Series  # the statistic of each earlier quarter, for the report's plot
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"quarter": self.quarter, "level": self.level, "statistic": self.statistic,
                "p_value": self.p_value, "n_reference": self.n_reference, "testable": self.testable,
                "alarm": self.alarm, "summary": self.summary, "per_sector": self.table.to_dict("records")}


def _residual_matrix(backtest: pd.DataFrame) -> pd.DataFrame:
    """target_quarter × sector Pearson residuals of graded rows (``sector, target_quarter, prediction, actual``)."""
    graded = backtest.dropna(subset=["prediction", "actual"])
    r = pearson_residual(graded["actual"].to_numpy(float), graded["prediction"].to_numpy(float))
    return (graded.assign(r=r).pivot_table(index="target_quarter", columns="sector", values="r", aggfunc="first")
            .sort_index())


def _scales(residuals: pd.DataFrame, min_residuals: int) -> pd.DataFrame:
    """Per target quarter t and sector: RMS of the residuals of targets before t (NaN with too few)."""
    sq = residuals.pow(2)
    total = sq.fillna(0).cumsum().shift(1)
    count = sq.notna().astype(int).cumsum().shift(1)
    return np.sqrt(total / count).where(count >= min_residuals)


def performance_degradation(
    backtest: pd.DataFrame, current: pd.DataFrame, quarter: str, level: float = PERFORMANCE_LEVEL,
    min_residuals: int = MIN_SCALE_RESIDUALS,
) -> PerformanceResult:
    """Judge ``current`` (``sector, prediction, actual`` for ``quarter``) against the champion's earlier errors.

    ``backtest``: the champion's graded rolling-origin rows (``sector, target_quarter, prediction, actual``);
    only targets before ``quarter`` are read, each quarter's statistic standardised by residuals before it.
    """
    past = backtest[backtest["target_quarter"].astype(str) < quarter]
    residuals = _residual_matrix(past)
    scales = _scales(residuals, min_residuals)
    reference = (residuals / scales).pow(2).max(axis=1, skipna=True).dropna()
    sq, n = residuals.pow(2), residuals.notna().sum()
    scale_now = np.sqrt(sq.sum() / n).where(n >= min_residuals)
    table = current[["sector", "prediction", "actual"]].astype({"sector": "int64"}).copy()
    table["prediction"] = table["prediction"].astype("float64")
    table["actual"] = pd.to_numeric(table["actual"].astype("Float64"), errors="coerce").astype("float64")
    table["residual"] = pearson_residual(table["actual"].to_numpy(float), table["prediction"].to_numpy(float))
    table["residual_scale"] = table["sector"].map(scale_now).astype("float64")
    table["z"] = table["residual"] / table["residual_scale"]
    table = table[PERFORMANCE_COLUMNS].sort_values("sector", ignore_index=True)
    z = table["z"].dropna()
    statistic = float(z.pow(2).max()) if len(z) else math.nan
    p = conformal_pvalue(reference.to_numpy(), statistic)
    testable = len(reference) >= min_reference(level) and math.isfinite(statistic)
    alarm = bool(testable and p <= level)
    if table.empty:
        summary = f"{quarter}: no forecast made for it to judge"
    elif table["residual"].isna().all():
        summary = f"{quarter}: no published count to judge the forecast against yet"
    elif not math.isfinite(statistic):
        summary = (f"{quarter}: not testable yet (fewer than {min_residuals} earlier graded forecasts per sector "
                   "to standardise its errors)")
    else:
        summary = (f"{quarter}: max squared standardised residual {statistic:.2f} (sector "
                   f"{int(table.loc[table['z'].pow(2).idxmax(), 'sector'])}); rank p-value {p:.3f} among "
                   f"{len(reference)} earlier quarters")
        summary += (f" {'≤' if alarm else '>'} {level:g}" if testable
                    else f"; not testable yet (needs {min_reference(level)} earlier quarters to reach {level:g})")
    return PerformanceResult(quarter, level, statistic, p, len(reference), testable, alarm, table, reference,
                             summary)


# ---- over many quarters -----------------------------------------------------------------------------------

def _flags(report: Mapping[str, Any]) -> dict[str, Any]:
    """A report's quarter and, per monitor, (alarmed, could test the quarter).

    A report without the tests (older or hand-made) counts as tested by every monitor, except the common
    level in a report from before it was a monitor of its own (no ``common_level`` flag).
    """
    flags, tests = report.get("flags", {}), report.get("data_drift", {}).get("tests")

    def tested(common: bool) -> bool:
        return tests is None or any(t.get("p_value") is not None for t in tests
                                    if (t.get("hypothesis") == COMMON) == common)

    return {"quarter": str(report["quarter"]),
            "data_drift": (bool(flags.get("data_drift", False)), tested(False)),
            "common_level": (bool(flags.get("common_level", False)), "common_level" in flags and tested(True)),
            "performance_degradation": (bool(flags.get("performance_degradation", flags.get("degraded", False))),
                                        bool(report.get("performance", {}).get("testable", True)))}


def _rate(alarms: list[str], quarters: list[str]) -> dict[str, Any]:
    return {"rate": len(alarms) / len(quarters) if quarters else None, "alarms": len(alarms),
            "quarters": len(quarters), "first_quarter": quarters[0] if quarters else None}


def drift_summary(
    reports: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]],
    excluded: Iterable[str] = KNOWN_SHIFTS,
) -> dict[str, Any]:
    """Alarms over the monitored quarters and each monitor's false-alarm rate outside known shifts.

    ``reports``: drift report dicts (``drift_report``'s value per partition, or its JSON files) with
    ``quarter`` and ``flags.data_drift`` / ``flags.common_level`` / ``flags.performance_degradation``; a
    mapping's values are used.
    ``false_alarm_rate[monitor]`` = its alarmed quarters / the quarters it could test, both outside
    ``excluded`` (rate None when none remain): the data-drift test runs from the first report, the
    performance test only once it has enough earlier quarters (2019Q1 on the bundled data), so one rate
    over both would mix two denominators. ``false_alarm_rate_any`` is the old figure (any monitor, every
    quarter outside ``excluded``). Both count every alarm outside known shifts as false, which is right only
    on data without other shifts: ``monitoreval.py`` gives the rates on simulated null panels.
    """
    items = list(reports.values()) if isinstance(reports, Mapping) else list(reports)
    flags = sorted({f["quarter"]: f for f in map(_flags, items)}.values(), key=lambda f: f["quarter"])
    skip = set(excluded)
    outside = [f for f in flags if f["quarter"] not in skip]
    alarms = [f["quarter"] for f in flags if any(f[m][0] for m in MONITORS)]
    return {
        "quarters": len(flags),
        "first_quarter": flags[0]["quarter"] if flags else None,
        "last_quarter": flags[-1]["quarter"] if flags else None,
        "alarms": alarms,
        **{f"{m}_alarms": [f["quarter"] for f in flags if f[m][0]] for m in ("data_drift", "common_level")},
        "performance_alarms": [f["quarter"] for f in flags if f["performance_degradation"][0]],
        "excluded": sorted(f["quarter"] for f in flags if f["quarter"] in skip),
        "false_alarms": [q for q in alarms if q not in skip],
        "false_alarm_rate": {m: _rate([f["quarter"] for f in outside if f[m][0] and f[m][1]],
                                      [f["quarter"] for f in outside if f[m][1]]) for m in MONITORS},
        "false_alarm_rate_any": len([q for q in alarms if q not in skip]) / len(outside) if outside else None,
        "levels": LEVELS,
        "nominal_false_alarm_rate": round(sum(LEVELS.values()), 6),
    }
