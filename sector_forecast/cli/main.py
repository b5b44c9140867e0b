"""`sector-forecast`: run the pipeline, open the UI, and work with StatBank sources and snapshots."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from sector_forecast.cli.evaluate import evaluate
from sector_forecast.cli.home import REPO_ROOT, ensure_dagster_home
from sector_forecast.cli.statbank import statbank

# How long `ui` lets `dagster dev` and everything it started stop after SIGINT/SIGTERM before SIGKILL. Idle,
# they need a few seconds; `dagster dev` itself allows its webserver and daemon 60 s each.
STOP_GRACE_SECONDS = 30.0

# Upstream notices with nothing for a user to act on, filtered (by exact message, through PYTHONWARNINGS so
# that `dagster dev` and the processes it starts inherit them) instead of shown on every `sector-forecast ui`:
# - `dagster dev` is "superseded by `dg dev`", a CLI in a package this project does not ship
#   (dagster-dg-cli); `dg dev` starts the same webserver and daemon.
UI_QUIET = ("ignore:Function `dev_command` is superseded",)



@click.group(help=__doc__)
def main() -> None:
    pass


@main.command(help="Materialise the whole graph on the configured source (bundled snapshot unless "
              "SECTOR_FORECAST_STATBANK_URL is set) into the Dagster instance at $DAGSTER_HOME "
              "(./.dagster_home when unset), then print a summary, the leaderboard and the forecasts.")
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
    from sector_forecast.defs.pipeline import run_pipeline
    from sector_forecast.defs.resources import StatBankResource

    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} (stages: {', '.join(STAGES)})", param_hint="--stage")

    statbank_resource = StatBankResource.from_env()
    client = statbank_resource.get_client()
    click.echo(f"sector_forecast: source {client.source}; Dagster instance {home}")
    if client.is_snapshot:
        click.echo("  (bundled snapshot: RECONSTRUCTED data — real figures where DST's are known, synthetic "
                   "elsewhere; see data/README.md)")
        from sector_forecast.statbank.provenance import provenance_shares, provenance_summary

        click.echo(f"  cells the models learn from: {provenance_summary(provenance_shares(client.snapshot_dir))}")
    from sector_forecast.statbank import StatBankError

    with dg.DagsterInstance.get() as instance:
        try:
            result = run_pipeline(defs, instance, client, jobs=list(stages) or None, echo=click.echo)
        except StatBankError as err:
            raise click.ClickException(str(err)) from err
        print_summary(instance, result, echo=click.echo, data_label=statbank_resource.data_label())
    if not result.success:
        sys.exit(1)


@main.command(help="Start the Dagster web UI and daemon (`dagster dev`) on 127.0.0.1 on the same instance "
              "as `run`. Ctrl-C or SIGTERM stops `dagster dev` and every process it started.")
@click.option("--port", default=3000, show_default=True)
def ui(port: int) -> None:
    home = ensure_dagster_home()
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO_ROOT / "workspace.yaml")]
    click.echo(" ".join(cmd))
    # Run from $DAGSTER_HOME: `dagster dev` warns that a dagster.yaml in its working directory "will not be
    # used" whenever that directory is not $DAGSTER_HOME, and the repository root holds the template.
    env = {**os.environ, "PYTHONWARNINGS": ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), *UI_QUIET]))}
    raise SystemExit(supervise(cmd, cwd=home, env=env))


class _Group:
    """The process group of a supervised command, and the signals received while it runs."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.pgid: int | None = None
        self.received: list[int] = []
        self.deadline: float | None = None

    def on_signal(self, signum: int, _frame: object) -> None:
        """First signal: forward it (SIGHUP as SIGTERM) and start the grace period; a second one: SIGKILL."""
        self.received.append(signum)
        if len(self.received) == 1:
            self.deadline = time.monotonic() + self.grace
            self.send(signal.SIGTERM if signum == signal.SIGHUP else signum)
        else:
            self.send(signal.SIGKILL)

    def send(self, sig: int) -> None:
        if self.pgid is not None:
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                pass

    def alive(self) -> bool:
        """Whether any process of the group is left; collects those re-parented to us (see `supervise`)."""
        if self.pgid is None:
            return False
        try:
            while os.waitpid(-self.pgid, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        return True

    def wait(self, done: Callable[[], bool]) -> bool:
        """Poll `done` until true; past the deadline SIGKILL the group. False when even that did not help."""
        killed_at: float | None = None
        while not done():
            now = time.monotonic()
            if self.deadline is not None and now > self.deadline and killed_at is None:
                click.echo(f"sector-forecast: still running {self.grace:.0f}s after the stop signal: killing",
                           err=True)
                self.send(signal.SIGKILL)
                killed_at = now
            if killed_at is not None and now > killed_at + 5:
                return False
            time.sleep(0.2)
        return True


def _become_subreaper() -> None:
    """Have orphans of the tree re-parented to this process, not to init, so `_Group.alive` can collect them.

    Without it, a zombie left by a dead `dagster dev` lingers wherever init does not reap (a container whose
    first process is not an init), and the group never looks empty. Linux only; elsewhere a no-op.
    """
    if sys.platform.startswith("linux"):
        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def supervise(cmd: list[str], cwd: Path, env: dict[str, str], grace: float = STOP_GRACE_SECONDS) -> int:
    """Run `cmd` in a session of its own and return its exit status once no process of its group is left.

    SIGINT, SIGTERM and SIGHUP to this process go to the whole group, as a terminal's Ctrl-C would (Dagster
    starts its webserver, daemon, code servers and run workers in the group of `dagster dev`); after `grace`
    seconds, or on a second signal, the group is SIGKILLed. Our handlers are installed before the child
    starts, so it begins with the default dispositions even when this process was started with SIGINT
    ignored (a background job of a script): `dagster dev` maps SIGTERM to SIGINT's handler, and would
    ignore both.
    """
    group = _Group(grace)
    handled = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # under nohup, a closed terminal is no stop
        handled.append(signal.SIGHUP)
    previous = {sig: signal.signal(sig, group.on_signal) for sig in handled}
    _become_subreaper()
    proc: subprocess.Popen | None = None
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, start_new_session=True)
        group.pgid = proc.pid
        if group.received:  # a signal arrived while the child was starting
            group.send(signal.SIGTERM if group.received[0] == signal.SIGHUP else group.received[0])
        group.wait(lambda: proc.poll() is not None)
        if group.alive() and not group.received:  # the leader died on its own: stop what it left behind
            group.deadline = time.monotonic() + grace
            group.send(signal.SIGTERM)
        group.wait(lambda: not group.alive())
    finally:
        if proc is not None and group.alive():  # an error of ours must not orphan the tree either
            group.send(signal.SIGKILL)
            proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    code = proc.returncode
    return code if code >= 0 else 128 - code


main.add_command(statbank)
main.add_command(evaluate)

if __name__ == "__main__":
    main()
