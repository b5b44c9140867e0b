"""`sector-forecast evaluate`: the evidence behind the forecasts, read from the instance after `run`.

Everything printed here is read from what the graph stored (leaderboard, gate, drift reports) or computed
from it: no figure is recomputed by other code than the assets', so the CLI, the UI and README agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sector_forecast.domain import drift, monitoreval
from sector_forecast.domain.jsonable import to_json
from sector_forecast.domain.sectors import SECTORS
from sector_forecast.storage.values import read_stored

METRICS = ("mae", "mase", "coverage80", "coverage95", "interval_score")


def _stored(root: Path, asset: str, partition: str | None = None) -> Any | None:
    try:
        return read_stored(root, asset, partition)
    except FileNotFoundError:
        return None


def _drift_reports(root: Path) -> list[dict]:
    folder = root / "drift_report"
    keys = sorted({p.stem for p in folder.iterdir() if not p.name.startswith(".")}) if folder.exists() else []
    return [r for r in (_stored(root, "drift_report", key) for key in keys) if r is not None]


def _missing(predictions: pd.DataFrame) -> dict[str, int]:
    """Per model: sector forecasts it could not make (an input DST suppressed, a series Theta cannot fit)."""
    counts = predictions[predictions["prediction"].isna()].groupby("model").size()
    return {str(m): int(counts.get(m, 0)) for m in sorted(predictions["model"].unique())}


def _named(sector: object) -> str:
    return f"{sector} {SECTORS.get(int(sector), '')}".strip()


def collect(storage_dir: Path, data_shares: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The evidence as one JSON-able object (keys as documented in README's *Evidence* section)."""
    board = _stored(storage_dir, "backtest_leaderboard")
    champion = _stored(storage_dir, "champion_model")
    if board is None or champion is None:
        raise FileNotFoundError("no backtest_leaderboard / champion_model in this instance: run `sector-forecast run`")
    graded = board["predictions"].dropna(subset=["actual"])
    origins = sorted(graded["origin"].unique())
    models: dict[str, dict[str, dict[str, Any]]] = {}
    for row in board["overall"].to_dict("records"):
        models.setdefault(row["model"], {})[row["target"]] = {m: to_json(row[m]) for m in METRICS}
    per_sector = board["per_sector"]
    champ = champion["champion"]
    mine = per_sector[(per_sector["model"] == champ) & (per_sector["target"] == "bankruptcies")]
    gate = champion["gate"]
    bankruptcies = data_shares.get("KONK25", {})
    return {
        "origins": len(origins),
        "first_origin": origins[0] if origins else None,
        "last_origin": origins[-1] if origins else None,
        "models": models,
        "per_sector_coverage80": {str(int(s)): to_json(c) for s, c in zip(mine["sector"], mine["coverage80"],
                                                                         strict=True)},
        "champion": {"model": champ, "baseline": gate["baseline"], "candidate": gate["candidate"],
                     "statistic": to_json(gate["statistic"]), "pvalue": to_json(gate["pvalue"]),
                     "pvalue_holm": to_json(gate.get("pvalue_holm")),
                     "promoted": bool(gate["promoted"]), "version": champion.get("champion_version"),
                     "reason": gate["reason"], "baselines": list(gate.get("baselines") or []),
                     "challengers": {c["model"]: {k: to_json(c[k]) for k in ("mase", "pvalue", "pvalue_holm",
                                                                            "origins")}
                                     for c in gate.get("challengers") or []}},
        "missing_forecasts": _missing(board["predictions"]),
        "score_season_pvalue": to_json((board.get("score_season") or {}).get("pvalue")),
        "score_season_means": {q: to_json(m) for q, m in (board.get("score_season") or {}).get("means", {}).items()},
        "score_drivers": {k: to_json(v) for k, v in (board.get("score_drivers") or {}).items()},
        "drift": {**drift.drift_summary(_drift_reports(storage_dir)),
                  **monitoreval.evaluation_summary(_stored(storage_dir, "monitor_evaluation"))},
        "data": {status: to_json(bankruptcies.get(status)) for status in ("real", "approximate", "synthetic")},
        "score_distribution": [{k: to_json(v) for k, v in row.items()}
                               for row in board.get("score_distribution", pd.DataFrame()).to_dict("records")],
        "data_by_table": data_shares,
        "by_horizon": by_horizon(board, champion),
    }


def _gate_json(gate: dict) -> dict[str, Any]:
    return {"winner": gate["champion"], "baseline": gate["baseline"], "candidate": gate["candidate"],
            "statistic": to_json(gate["statistic"]), "pvalue": to_json(gate["pvalue"]),
            "pvalue_holm": to_json(gate.get("pvalue_holm")), "promoted": bool(gate["promoted"]),
            "reason": gate["reason"],
            "challengers": {c["model"]: {k: to_json(c[k]) for k in ("mase", "pvalue", "pvalue_holm", "origins")}
                            for c in gate.get("challengers") or []}}


def by_horizon(board: dict, champion: dict) -> dict[str, dict[str, Any]]:
    """Per horizon ("1"–"4"): graded origins, per-model bankruptcy metrics, the champion's coverage, the gate.

    The champion is the one chosen on horizon 1 (what serves); each horizon's gate says whether a challenger
    would beat that horizon's best baseline. Empty for an instance written before horizons existed.
    """
    overall, per_sector = board.get("overall_by_horizon"), board.get("per_sector_by_horizon")
    predictions, gates = board.get("predictions_by_horizon"), champion.get("gate_by_horizon") or {}
    if overall is None or per_sector is None or predictions is None:
        return {}
    champ, out = champion["champion"], {}
    for h in sorted(int(h) for h in overall["horizon"].unique()):
        rows, graded = overall[overall["horizon"] == h], predictions[predictions["horizon"] == h].dropna(
            subset=["actual"])
        mine = per_sector[(per_sector["horizon"] == h) & (per_sector["model"] == champ)]
        own = rows[rows["model"] == champ]
        out[str(h)] = {
            "origins": int(graded["origin"].nunique()),
            "first_origin": str(graded["origin"].min()) if len(graded) else None,
            "last_origin": str(graded["origin"].max()) if len(graded) else None,
            "models": {r["model"]: {m: to_json(r[m]) for m in METRICS} for r in rows.to_dict("records")},
            "coverage": {"model": champ,
                         **{c: to_json(own[c].iloc[0]) if len(own) else None for c in ("coverage80", "coverage95")},
                         **{f"per_sector_{c}": {str(int(s)): to_json(v) for s, v in zip(mine["sector"], mine[c],
                                                                                        strict=True)}
                            for c in ("coverage80", "coverage95")}},
            "gate": _gate_json(gates[str(h)]) if str(h) in gates else None,
        }
    return out


def _indent(text: str) -> str:
    return "\n".join(f"   {line}" for line in text.splitlines())


def _pvalue_format(value: float) -> str:
    return "< 0.001" if 0 <= value < 0.001 else f"{value:.3f}"


def render(evidence: dict[str, Any]) -> str:
    """The same evidence as text for a person."""
    span = f"{evidence['first_origin']}..{evidence['last_origin']}"
    lines = [f"== backtest: {evidence['origins']} graded origins ({span}), each seeing only what DST had "
             "published then"]
    rows = [{"model": m, "target": t, **v}
            for m, targets in evidence["models"].items() for t, v in targets.items()]
    table = pd.DataFrame(rows).sort_values(["target", "mase"])
    lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    c = evidence["champion"]
    mine, naive = (evidence["models"].get(m, {}).get("score", {}) for m in (c["model"], "naive"))
    if mine.get("mase") is not None and naive.get("mase") is not None:
        verdict = "beats" if mine["mase"] < naive["mase"] else "does not beat"
        lines.append(f"   score forecasts: the champion's ({c['model']}) derived score {verdict} the naive score "
                     f"forecast, MASE {mine['mase']:.3f} vs {naive['mase']:.3f}")
    lines += ["", f"== promotion gate: champion {c['model']} (version {c['version']}); baselines "
              f"{', '.join(c['baselines'])} (best: {c['baseline']})", f"   {c['reason']}"]
    if c["challengers"]:
        tests = pd.DataFrame([{"challenger": m, **v} for m, v in c["challengers"].items()])
        lines += ["   each challenger against the best baseline (one-sided Diebold-Mariano/HLN; Holm over "
                  f"{len(tests)}):", _indent(tests.to_string(index=False, float_format=_pvalue_format))]
    missing = {m: n for m, n in evidence.get("missing_forecasts", {}).items() if n}
    if missing:
        lines.append("   sector forecasts a model could not make (left out of its scores, never filled in): "
                     + ", ".join(f"{m} {n}" for m, n in missing.items()))
    cov = evidence["per_sector_coverage80"]
    lines += ["", "== 80% coverage of the champion's bankruptcy intervals per sector (nominal 0.80):"]
    lines += [f"   {_named(s):<62} {v:.2f}" for s, v in cov.items() if v is not None]
    lines += horizon_lines(evidence.get("by_horizon") or {})
    lines += ["", *monitoring_lines(evidence["drift"])]
    if evidence.get("score_season_pvalue") is not None:
        means = ", ".join(f"{q} {m:.2f}" for q, m in evidence["score_season_means"].items() if m is not None)
        drivers = evidence["score_drivers"]
        lines += ["", f"== Sector Vitality Score: no season if p > 0.10 — Kruskal-Wallis by quarter of year p = "
                  f"{evidence['score_season_pvalue']:.3f} (means {means})",
                  f"   correlation with the same percentile of bankruptcies alone "
                  f"{drivers['corr_bankruptcies_only']:.2f}, of births alone {drivers['corr_births_only']:.2f} "
                  f"({drivers['n']} published scores)"]
    dist = pd.DataFrame(evidence["score_distribution"])
    if len(dist):
        dist.insert(1, "name", dist["sector"].map(lambda s: SECTORS.get(int(s), "")))
        lines += ["", "== Sector Vitality Score on published quarters, per sector (entry_share_sd: the old score's "
                  "spread on the same quarters)", dist.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    lines += ["", "== data the bankruptcy models learn from (KONK25 cells): "
              + ", ".join(f"{k} {v:.1%}" for k, v in evidence["data"].items() if v is not None)]
    return "\n".join(lines)


def monitoring_lines(d: dict[str, Any]) -> list[str]:
    """The monitors' figures: alarms, false-alarm rates per monitor (bundled and simulated), detection."""
    lines = [f"== monitoring: {d['quarters']} quarters, alarms in {len(d['alarms'])}: {', '.join(d['alarms']) or '-'}",
             f"   false-alarm rate per monitor (nominal 0.05 each), bundled outside known shifts "
             f"({'..'.join(d['excluded'][::max(len(d['excluded']) - 1, 1)]) or '-'}) and on simulated null panels"]
    sim = d.get("false_alarm_rate_simulated", {})
    for monitor, r in d["false_alarm_rate"].items():
        bundled = ("n/a" if r["rate"] is None
                   else f"{r['alarms']}/{r['quarters']} = {r['rate']:.1%} (from {r['first_quarter']})")
        s = sim.get(monitor)
        simulated = (f"{s['rate']:.1%} of {s['quarters']} quarters on {s['panels']} panels"
                     if s and s["rate"] is not None else "not run" if not s else "no testable quarter")
        lines.append(f"   {monitor}: bundled {bundled}; simulated {simulated}")
    det = d.get("detection")
    if det and not det["scenarios"]:
        lines.append("   detection: no quarter yet where both monitors can test a shift and its next quarter")
    elif det:
        one = ", ".join(f"×{f} {v:.0%}" for f, v in det.items() if isinstance(v, float))
        every = ", ".join(f"×{f} {v:.0%}" for f, v in det["all_sectors"].items())
        quarters = det["start_quarters"]
        lines += [f"   detected within two quarters ({det['scenarios']} shifts from {quarters[0]}..{quarters[-1]}, "
                  "only alarms on what was shifted): one sector " + one + "; all sectors " + every]
    return lines


def horizon_lines(by_h: dict[str, dict[str, Any]]) -> list[str]:
    """Horizons 1–4: MASE per model, the champion's coverage (overall and per-sector range), each horizon's gate."""
    if not by_h:
        return []
    mase = pd.DataFrame({f"h{h}": {m: v["mase"] for m, v in e["models"].items()} for h, e in by_h.items()})
    mase = mase.sort_values(mase.columns[0])
    champ = next(iter(by_h.values()))["coverage"]["model"]
    lines = ["", f"== horizons 1–{max(map(int, by_h))}: each origin forecasts the next four quarters (direct, one "
             "fit per horizon); graded origins " + ", ".join(f"h{h} {e['origins']}" for h, e in by_h.items()),
             "   bankruptcy MASE per horizon:", _indent(mase.to_string(float_format=lambda v: f"{v:.3f}"))]
    lines.append(f"   coverage of the champion's ({champ}) intervals per horizon (nominal 0.80/0.95; per-sector 80% "
                 "range):")
    for h, e in by_h.items():
        cov, sectors = e["coverage"], [v for v in e["coverage"]["per_sector_coverage80"].values() if v is not None]
        span = f"{min(sectors):.2f}..{max(sectors):.2f}" if sectors else "-"
        lines.append(f"     h{h}: 80% {_fmt(cov['coverage80'])}, 95% {_fmt(cov['coverage95'])}; per sector 80% {span}")
    lines.append("   promotion gate per horizon (best challenger vs that horizon's best baseline, DM/HLN with h-1 "
                 f"autocovariances, Holm over the challengers; the champion, {champ}, is chosen on h1):")
    for h, e in by_h.items():
        g = e["gate"]
        if g:
            verdict = f"{g['candidate']} passes" if g["promoted"] else f"{g['baseline']} holds"
            lines.append(f"     h{h}: {g['candidate']} vs {g['baseline']}: p = {_fmt(g['pvalue'])}, Holm "
                         f"{_fmt(g['pvalue_holm'])} → {verdict}")
    return lines


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else _pvalue_format(value)
