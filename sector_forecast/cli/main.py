"""`sector-forecast`: run the pipeline, open the UI, and work with StatBank sources and snapshots."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import click

from sector_forecast import clock
from sector_forecast.cli.errors import DEBUG_ENV, OneLineErrors
from sector_forecast.cli.evaluate import evaluate
from sector_forecast.cli.home import REPO_ROOT, ensure_dagster_home, exclusive_instance
from sector_forecast.cli.statbank import statbank
from sector_forecast.statbank.client import ENV_URL, base_url_problem, env_source

# How long `ui` lets `dagster dev` and everything it started stop after SIGINT/SIGTERM before SIGKILL. Idle,
# they need a few seconds; `dagster dev` itself allows its webserver and daemon 60 s each.
STOP_GRACE_SECONDS = 30.0
ANSI_CODE = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")

# Upstream notices with nothing for a user to act on, filtered (by exact message, through PYTHONWARNINGS so
# that `dagster dev` and the processes it starts inherit them) instead of shown on every `sector-forecast ui`:
# - `dagster dev` is "superseded by `dg dev`", a CLI in a package this project does not ship
#   (dagster-dg-cli); `dg dev` starts the same webserver and daemon.
UI_QUIET = ("ignore:Function `dev_command` is superseded",)


@click.group(cls=OneLineErrors, help=__doc__)
@click.option("--debug", is_flag=True, help=f"Show the traceback of an unexpected error (also {DEBUG_ENV}=1).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    try:  # read before anything imports the partitions, which would fail with a traceback instead
        clock.override()
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    if ctx.invoked_subcommand != "statbank":  # whose commands take --url and name it when it is bad
        _check_source_url()


def _check_source_url() -> None:
    """A bad $SECTOR_FORECAST_STATBANK_URL is named as that variable, before anything is started with it."""
    url, _ = env_source()
    if url and (problem := base_url_problem(url)):
        raise click.ClickException(f"{ENV_URL}={url!r} {problem} (e.g. https://api.statbank.dk/v1; "
                                   "unset it for the bundled snapshot)")


@main.command(help="Materialise the whole graph on the configured source (bundled snapshot unless "
              "SECTOR_FORECAST_STATBANK_URL is set) into the Dagster instance at $DAGSTER_HOME "
              "(./.dagster_home when unset), then print a summary, the leaderboard and the forecasts. "
              "One run at a time per instance: a second waits for the first, saying so. Runs left unfinished "
              "by a process that died are marked failed first. The raw tables and the fits use every CPU (worker "
              "processes; SECTOR_FORECAST_WORKERS sets how many, 1 runs everything in this process).")
# Stage names are the job names in `defs/jobs.py`, checked once the graph is imported: listing them here
# would mean importing Dagster for every `--help` (over a second) or keeping a second copy of the list.
@click.option("--stage", "stages", multiple=True, metavar="JOB",
              help="Run only these stage jobs (default: all, in order); an unknown name lists the stages.")
def run(stages: tuple[str, ...]) -> None:
    home = ensure_dagster_home()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the summary readable
    import dagster as dg

    from sector_forecast.cli.summary import print_summary
    from sector_forecast.defs.definitions import defs
    from sector_forecast.defs.jobs import STAGES
    from sector_forecast.defs.pipeline import fail_interrupted_runs, remove_partial_writes, run_pipeline
    from sector_forecast.defs.resources import StatBankResource
    from sector_forecast.defs.stage_pool import stage_workers

    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} (stages: {', '.join(STAGES)})", param_hint="--stage")
    try:
        stage_workers()  # a bad SECTOR_FORECAST_WORKERS fails here, before anything is started
    except ValueError as err:
        raise click.ClickException(str(err)) from None

    statbank_resource = StatBankResource.from_env()
    client = statbank_resource.get_client()
    click.echo(f"sector_forecast: source {client.source}; Dagster instance {home}")
    if client.is_snapshot:
        click.echo("  (bundled snapshot: RECONSTRUCTED data — real figures where DST's are known, synthetic "
                   "elsewhere; see data/README.md)")
        from sector_forecast.statbank.provenance import provenance_shares, provenance_summary

        click.echo(f"  cells the models learn from: {provenance_summary(provenance_shares(client.snapshot_dir))}")
    from sector_forecast.statbank import StatBankError

    with exclusive_instance(home, echo=click.echo), dg.DagsterInstance.get() as instance:
        for line in fail_interrupted_runs(instance):
            click.echo(f"sector-forecast: {line}")
        if partial := remove_partial_writes(instance, Path(instance.storage_directory())):
            click.echo(f"sector-forecast: removed {len(partial)} partial file(s) an interrupted run left in the store")
        try:
            result = run_pipeline(defs, instance, client, jobs=list(stages) or None, echo=click.echo)
        except StatBankError as err:
            raise click.ClickException(str(err)) from err
        print_summary(instance, result, echo=click.echo, data_label=statbank_resource.data_label())
    if not result.success:
        sys.exit(1)


@main.command(help="Start the Dagster web UI and daemon (`dagster dev`) on 127.0.0.1 on the same instance "
              "as `run`. Quiet by default: only warnings and errors of the webserver and daemon are shown. "
              "Ctrl-C or SIGTERM stops `dagster dev` and every process it started.")
@click.option("--port", default=3000, show_default=True)
@click.option("--verbose", is_flag=True,
              help="Also show their INFO lines: every automation and sensor tick (several a minute when idle).")
def ui(port: int, verbose: bool) -> None:
    home = ensure_dagster_home()
    _fail_interrupted_runs(home)
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO_ROOT / "workspace.yaml"),
           "--log-level", "info" if verbose else "warning"]
    click.echo(" ".join(cmd))
    # At WARNING the webserver's own "Serving dagster-webserver on ..." line is not shown: say where it will be.
    click.echo(f"sector-forecast: the UI will be at http://127.0.0.1:{port} once dagster dev has loaded the code"
               f"{'' if verbose else '; --verbose shows every daemon tick'}")
    # Run from $DAGSTER_HOME: `dagster dev` warns that a dagster.yaml in its working directory "will not be
    # used" whenever that directory is not $DAGSTER_HOME, and the repository root holds the template.
    env = {**os.environ, "PYTHONWARNINGS": ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), *UI_QUIET]))}
    raise SystemExit(supervise(cmd, cwd=home, env=env))


def _fail_interrupted_runs(home: Path) -> None:
    """Before the UI shows the instance: runs whose process died are failed (unless a live `run` holds it)."""
    import dagster as dg

    from sector_forecast.defs.pipeline import fail_interrupted_runs

    with exclusive_instance(home, echo=click.echo, wait=False) as held:
        if held:
            with dg.DagsterInstance.get() as instance:
                for line in fail_interrupted_runs(instance):
                    click.echo(f"sector-forecast: {line}")


def _pump(source: IO[bytes], target: IO[bytes], plain: bool) -> None:
    """Copy a child's output line by line, without colour codes when `plain`."""
    for line in iter(source.readline, b""):
        target.write(ANSI_CODE.sub(b"", line) if plain else line)
        target.flush()


def supervise(cmd: list[str], cwd: Path, env: dict[str, str], grace: float = STOP_GRACE_SECONDS) -> int:
    """Run `cmd` in a process group of its own; return its exit status once no process of the group is left.

    SIGINT, SIGTERM and SIGHUP (as SIGTERM) go to the whole group, as a terminal's Ctrl-C would: Dagster starts
    its webserver, daemon, code servers and run workers in the group of `dagster dev`. After `grace` seconds,
    or on a second signal, the group is SIGKILLed; what the leader leaves behind when it exits gets the same
    SIGTERM, then SIGKILL. Our handlers are installed before the child starts, so it begins with the default
    dispositions even when this process was started with SIGINT ignored (a background job of a script).
    Output that goes to a file or pipe loses its colour codes (`dagster dev` colours whatever its stdout).
    """
    received: list[float] = []
    proc: subprocess.Popen | None = None

    def send(sig: int) -> None:
        if proc is not None:  # a signal before the child exists is forwarded once it does
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

    def on_signal(signum: int, _frame: object) -> None:
        received.append(time.monotonic())
        send(signal.SIGKILL if len(received) > 1 else signal.SIGTERM if signum == signal.SIGHUP else signum)

    handled = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # under nohup, a closed terminal is no stop
        handled.append(signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_signal) for sig in handled}
    streams = [(sys.stdout, "stdout"), (sys.stderr, "stderr")]
    pipes = {name: subprocess.PIPE for stream, name in streams if not stream.isatty()}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, start_new_session=True, **pipes)
    if received:
        send(signal.SIGTERM)
    pumps = [threading.Thread(target=_pump, args=(getattr(proc, name), stream.buffer, True), daemon=True)
             for stream, name in streams if name in pipes]
    try:
        for pump in pumps:
            pump.start()
        _wait_for_group(proc, received, send, grace)
    finally:
        send(signal.SIGKILL)  # whatever is left, also when we fail ourselves
        proc.wait()
        for pump in pumps:
            pump.join(timeout=5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode


def _wait_for_group(proc: subprocess.Popen, received: list[float], send: Callable[[int], None], grace: float) -> None:
    """Wait for the leader, then for the rest of its group; SIGKILL the group `grace` s after a stop signal."""
    while proc.poll() is None:
        if received and time.monotonic() > received[0] + grace:
            click.echo(f"sector-forecast: still running {grace:.0f}s after the stop signal: killing", err=True)
            send(signal.SIGKILL)
            break
        time.sleep(0.2)
    proc.wait()
    if not received:  # the leader stopped on its own: stop what it left behind
        received.append(time.monotonic())
        send(signal.SIGTERM)
    while _group_alive(proc.pid) and time.monotonic() < received[0] + grace:
        time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group is left (its zombies that are ours are collected first)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-pgid, os.WNOHANG)[0] > 0:
            pass
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


main.add_command(statbank)
main.add_command(evaluate)

if __name__ == "__main__":
    main()
