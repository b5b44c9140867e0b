"""`sector-forecast evaluate`: the evidence behind the forecasts, read from the instance after `run`.

Everything printed here is read from what the graph stored (leaderboard, gate, drift reports) or computed
from it: no figure is recomputed by other code than the assets', so the CLI, the UI and README agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sector_forecast.domain import drift
from sector_forecast.domain.jsonable import to_json
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
                     "promoted": bool(gate["promoted"]), "version": champion.get("champion_version"),
                     "reason": gate["reason"]},
        "drift": drift.drift_summary(_drift_reports(storage_dir)),
        "data": {status: to_json(bankruptcies.get(status)) for status in ("real", "approximate", "synthetic")},
        "score_distribution": [{k: to_json(v) for k, v in row.items()}
                               for row in board.get("score_distribution", pd.DataFrame()).to_dict("records")],
        "data_by_table": data_shares,
    }


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
    lines += ["", f"== promotion gate: champion {c['model']} (version {c['version']}), "
              f"better baseline {c['baseline']}",
              f"   {c['reason']}"]
    cov = evidence["per_sector_coverage80"]
    lines += ["", "== 80% coverage of the champion's bankruptcy intervals per sector (nominal 0.80): "
              + ", ".join(f"{s}: {v:.2f}" for s, v in cov.items() if v is not None)]
    d = evidence["drift"]
    alarms = ", ".join(d["alarms"]) or "-"
    lines += ["", f"== monitoring: {d['quarters']} quarters, alarms in {len(d['alarms'])}: {alarms}"]
    if d.get("false_alarm_rate") is not None:
        lines.append(f"   false-alarm rate outside known shifts ({', '.join(d.get('excluded', [])) or '-'}): "
                     f"{d['false_alarm_rate']:.1%}")
    dist = pd.DataFrame(evidence["score_distribution"])
    if len(dist):
        lines += ["", "== Sector Vitality Score on published quarters, per sector (entry_share_sd: the old score's "
                  "spread on the same quarters)", dist.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    lines += ["", "== data the bankruptcy models learn from (KONK25 cells): "
              + ", ".join(f"{k} {v:.1%}" for k, v in evidence["data"].items() if v is not None)]
    return "\n".join(lines)
