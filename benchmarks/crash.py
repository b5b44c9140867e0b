"""A crash at any moment loses nothing: SIGKILL `sector-forecast run` at ten moments, re-run, check everything.

    .venv/bin/python benchmarks/crash.py [--kills 10] [--keep]

A clean run into one fresh `$DAGSTER_HOME` gives the reference `sector-forecast evaluate --json`. On a second
home each run is SIGKILLed once its stage's run has materialised a share of what it planned (read from the
instance, so the moment does not drift with the load), then repeated to completion on the same home, so the
first kill hits a cold instance and the others re-runs. After each re-run (`problems`): exit 0, `evaluate
--json` equal to the reference, no partial or unreadable file, a prediction log without duplicate or torn
rows, one `champion` alias and no extra model version, no run left unfinished. About 2 x kills + 1 runs.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import time
from pathlib import Path

from _common import CLI, REPO, cli, cold_run, fresh_home, home_env, instance_at, machine

# (stage, share of its planned materialisations done): ten moments over the whole run, ordered so that the
# first five (`--kills 5`) already hit raw, panel, fits, evaluation and monitoring once each.
MOMENTS = [("konk25_job", 0.5), ("panel_job", 0.5), ("fits_job", 0.3), ("evaluation_job", 0.5),
           ("monitoring_job", 0.5), ("konk4_job", 0.5), ("demo14_job", 0.5), ("panel_job", 0.9),
           ("fits_job", 0.8), ("monitoring_job", 0.9)]
STAGE_START = re.compile(r"^→ (\w+_job)", re.MULTILINE)
TEMPORARY = re.compile(r"^\..+\.(parquet|json|pkl)\.[A-Za-z0-9_]+$")  # atomic_write's mkstemp names


def stage_progress(home: Path, stage: str) -> float:
    """Share of the materialisations `stage`'s unfinished run planned that it has done (0 when none runs)."""
    import dagster as dg

    with instance_at(home) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name=stage, statuses=[dg.DagsterRunStatus.STARTED]), limit=1)
        if not runs:
            return 0.0
        planned = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        done = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    return len(done) / len(planned) if planned else 0.0


def run_streaming(home: Path, kill_at: tuple[str, float] | None = None) -> tuple[int, str, str | None]:
    """`sector-forecast run`: (exit code, output, the stage it was killed in, if it was)."""
    log = home.parent / "run-streaming.log"
    with log.open("w") as out:
        proc = subprocess.Popen([CLI, "run"], cwd=REPO, env=home_env(home), stdout=out, stderr=subprocess.STDOUT)
    killed = None
    while proc.poll() is None:
        time.sleep(0.2)
        stages = STAGE_START.findall(log.read_text(errors="replace"))
        if (kill_at and killed is None and stages and stages[-1] == kill_at[0]
                and stage_progress(home, kill_at[0]) >= kill_at[1]):  # fmt: skip
            proc.send_signal(signal.SIGKILL)
            killed = kill_at[0]
    return proc.wait(), log.read_text(errors="replace"), killed


def problems(home: Path, reference: dict, versions: int) -> list[str]:
    """What is wrong with `home` after a completed re-run (empty: nothing)."""
    import dagster as dg
    import pandas as pd

    found = []
    if (got := json.loads(cli(home, "evaluate", "--json"))) != reference:
        found.append("evaluation differs: " + ", ".join(k for k in reference if got.get(k) != reference[k]))
    storage = home / "storage"
    for path in storage.rglob("*"):
        if path.is_file() and TEMPORARY.match(path.name):
            found.append(f"partial file {path.relative_to(home)}")
        elif path.suffix == ".parquet":
            try:
                pd.read_parquet(path)
            except Exception as err:  # noqa: BLE001 — any unreadable file is the finding
                found.append(f"unreadable {path.relative_to(home)}: {err}")
    log_path = storage / "monitoring" / "prediction_log.parquet"
    log = pd.read_parquet(log_path) if log_path.exists() else None
    if log is None or log.empty:
        found.append("no prediction log")
    else:
        if (dups := int(log.duplicated(["origin", "model_version", "horizon", "sector"]).sum())):
            found.append(f"{dups} duplicate prediction-log rows")
        key_cells = ["origin", "sector", "horizon", "quarter", "prediction", "model", "model_version", "predicted_at"]
        if (torn := int(log[key_cells].isna().any(axis=1).sum())):
            found.append(f"{torn} prediction-log rows with empty cells")
    aliases, n = registry(home)
    if list(aliases).count("champion") != 1:
        found.append(f"aliases {aliases}")
    if n > versions:
        found.append(f"{n} model versions (clean run: {versions})")
    with instance_at(home) as instance:
        status = dg.DagsterRunStatus
        open_runs = instance.get_runs(dg.RunsFilter(statuses=[status.STARTED, status.STARTING]))
    if open_runs:
        found.append(f"{len(open_runs)} runs still STARTED")
    return found


def registry(home: Path) -> tuple[dict, int]:
    """The registered model in `home`'s MLflow store: its aliases and how many versions it has."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    name = "sector-vitality"
    return client.get_registered_model(name).aliases, len(client.search_model_versions(f"name = '{name}'"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=len(MOMENTS), help="how many of the ten moments (in order)")
    parser.add_argument("--keep", action="store_true", help="keep the two homes")
    args = parser.parse_args()
    print(machine(), flush=True)
    with fresh_home(keep=args.keep) as clean, fresh_home(keep=args.keep) as crashed:
        wall = cold_run(clean)[0]
        reference, versions = json.loads(cli(clean, "evaluate", "--json")), registry(clean)[1]
        print(f"clean run: {wall:.0f}s", flush=True)
        tally = {"kills": 0, "rerun rc 0": 0, "clean after re-run": 0}
        for number, moment in enumerate(MOMENTS[:args.kills], start=1):
            code, out, killed = run_streaming(crashed, kill_at=moment)
            what = f"killed in {killed}" if killed else f"finished before the kill (exit {code})"
            rerun, rerun_out, _ = run_streaming(crashed)
            found = problems(crashed, reference, versions) if rerun == 0 else [f"re-run exit {rerun}"]
            tally["kills"] += killed is not None
            tally["rerun rc 0"] += rerun == 0
            tally["clean after re-run"] += not found
            print(f"{number:2d}. {moment[0]} at {moment[1]:.0%} of its materialisations: {what}; re-run exit {rerun}; "
                  f"{'all checks pass' if not found else '; '.join(found)}", flush=True)
            if rerun != 0:
                print(rerun_out[-2000:], flush=True)
            print(tally_line(tally, number), flush=True)


def tally_line(tally: dict[str, int], n: int) -> str:
    return (f"tally: {tally['kills']}/{n} SIGKILLs landed mid-run, {tally['rerun rc 0']}/{n} re-runs exited 0, "
            f"{tally['clean after re-run']}/{n} passed every check (evaluation equal to the clean run's, no partial "
            f"file, prediction log without duplicate or torn rows, one champion alias, no extra model version, no "
            f"run left STARTED)")


if __name__ == "__main__":
    main()
