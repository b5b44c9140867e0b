"""The standard deployment, for real: PostgreSQL storage, code server, webserver, daemon and MLflow server.

Starts a private PostgreSQL server (Debian's binaries), points a temporary `$DAGSTER_HOME` holding
deploy/dagster.postgres.yaml verbatim at it, then runs the services of deploy/docker-compose.yml with the
compose file's own commands and environment on 127.0.0.1 (see conftest.py). Runs are submitted through the
webserver's GraphQL API, as the UI does, while the daemon is still stopped, so several runs sit queued at
once; then the daemon dequeues them at most two at a time. Everything is checked where it is stored: in
PostgreSQL's `runs`, `event_logs` and `asset_check_executions` tables, and MLflow's tables in its own
database — not through Dagster's Python API, which could be reading SQLite by mistake.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import requests
from dagster_graphql import DagsterGraphQLClient

from scripts.processes import graphql_over_http, log_tail
from sector_forecast.defs.pipeline import published_ranges
from sector_forecast.defs.run_process import HOST_TAG, PROCESS_TAG
from sector_forecast.domain.forecasters import MODELS
from sector_forecast.statbank import StatBankClient
from sector_forecast_tests.deploy.runs import run_rows, submit, wait_for_runs
from sector_forecast_tests.deploy.services import isolated_env, stop_instigators
from sector_forecast_tests.statbank_server import REPO, running_statbank_server

# dagster_graphql's client calls gql with arguments gql has deprecated; not ours to fix.
pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings("ignore::DeprecationWarning:gql")]

MAX_CONCURRENT_RUNS = 2  # deploy/dagster.postgres.yaml


DEPLOY = REPO / "deploy"


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant (runs' start/end times as PostgreSQL recorded them)."""
    edges = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    open_now = most = 0
    for _, step in edges:
        open_now += step
        most = max(most, open_now)
    return most


def test_queued_runs_and_history_live_in_postgres(postgres, compose_on_host, spawn, tmp_path: Path) -> None:
    compose = compose_on_host
    postgres.create_database("dagster")
    postgres.create_database("mlflow")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY / "dagster.postgres.yaml", home / "dagster.yaml")
    base_env = isolated_env()

    with running_statbank_server(tmp_path=tmp_path) as statbank:

        def start(service: str) -> object:
            env = {**base_env, **compose.environment(service), "DAGSTER_HOME": str(home)}
            if "SECTOR_FORECAST_STATBANK_URL" in env:
                env["SECTOR_FORECAST_STATBANK_URL"] = statbank.url
            return spawn(service, compose.command(service), env)

        # The deployment's password is required; compose passes the test cluster's through.
        assert compose.environment("user_code")["DAGSTER_PG_PASSWORD"] == postgres.password
        ranges = published_ranges(StatBankClient(base_url=statbank.url))
        services = {name: start(name) for name in ("mlflow", "user_code", "webserver")}
        # Each service is ready when compose's own healthcheck passes.
        for name, timeout in (("user_code", 120), ("webserver", 120), ("mlflow", 180)):
            services[name].wait_for(lambda n=name: _ok_cmd(compose.healthcheck(n)), timeout)
        # Containers reach MLflow as mlflow:5000; MLflow 3 must accept that Host header.
        ml_port = compose.ports["mlflow"][1]
        as_container = requests.get(
            f"http://127.0.0.1:{ml_port}/health", headers={"Host": "mlflow:5000"}, timeout=10
        )
        assert as_container.status_code == 200, as_container.text

        web_port = compose.ports["webserver"][1]
        client = DagsterGraphQLClient("127.0.0.1", port_number=web_port)
        # This test decides which runs happen: the publication and automation sensors are switched off
        # (the state is written to the schedule storage, i.e. PostgreSQL) before the daemon starts.
        stopped = stop_instigators(graphql_over_http(f"http://127.0.0.1:{web_port}/graphql"))
        konk25 = ranges["konk25_job"]
        assert konk25 is not None and ranges["konk4_job"] and ranges["demo14_job"]
        first_wave = [
            submit(client, "konk4_job", ranges["konk4_job"]),
            submit(client, "konk25_job", (konk25[0], "2017-12-01")),
            submit(client, "konk25_job", ("2018-01-01", konk25[1])),
            submit(client, "demo14_job", ranges["demo14_job"]),
        ]
        # No daemon yet: all four wait in the queue, and the queue is PostgreSQL's runs table.
        queued = run_rows(postgres, first_wave)
        assert len(queued) == 4 and {r[1] for r in queued.values()} == {"QUEUED"}, queued

        start("daemon")

        def logs() -> str:
            return "\n".join(f"--- {p.name}\n{log_tail(p, 2000)}" for p in sorted(tmp_path.glob("logs/*.log")))

        most_active = wait_for_runs(postgres, first_wave, 400, logs)
        assert most_active <= MAX_CONCURRENT_RUNS
        spans = [(r[2], r[3]) for r in run_rows(postgres, first_wave).values()]
        # Four queued runs, two slots: two ran side by side, never three.
        assert max_overlap(spans) == MAX_CONCURRENT_RUNS, spans

        panel = submit(client, "panel_job", ranges["panel_job"])
        wait_for_runs(postgres, [panel], 300, logs)
        last_origin = ranges["fits_job"][1]
        fits = submit(client, "fits_job", (last_origin, last_origin))
        wait_for_runs(postgres, [fits], 300, logs)
        services_pids = {service.proc.pid for service in services.values()}

    timeline = run_rows(postgres, [*first_wave, panel, fits])
    print(
        "\n".join(
            f"{job:12s} {status:8s} {start:.1f}..{end:.1f} ({end - start:.1f}s)"
            for job, status, start, end in sorted(timeline.values(), key=lambda r: r[2])
        )
    )
    fit_partitions = postgres.query(
        "dagster",
        "SELECT DISTINCT partition FROM event_logs WHERE run_id = %s AND asset_key = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (fits, '["fit_glm"]'),
    )
    assert [r[0] for r in fit_partitions] == [last_origin]
    assert_history_in_postgres(postgres, [*first_wave, panel, fits], konk25, home)
    # Each run names the process that executed it (`defs/run_process.py`): its own run worker on this host, what
    # `sector-forecast run`/`ui` judge after a crash; not a service's process.
    tagged = dict(postgres.query("dagster", "SELECT run_id, value FROM run_tags WHERE key = %s", (PROCESS_TAG,)))
    hosts = {v for _, v in postgres.query("dagster", "SELECT run_id, value FROM run_tags WHERE key = %s", (HOST_TAG,))}
    workers = {int(tagged[run].split(":")[0]) for run in [*first_wave, panel, fits] if run in tagged}
    assert len(workers) == 6 and not workers & services_pids and hosts == {socket.gethostname()}, (tagged, hosts)
    all_runs = postgres.query("dagster", "SELECT run_id FROM runs")
    assert sorted(r[0] for r in all_runs) == sorted([*first_wave, panel, fits]), "runs nobody asked for"
    heartbeats = postgres.query("dagster", "SELECT count(*) FROM daemon_heartbeats")[0][0]
    assert heartbeats > 0, "the daemon wrote no heartbeat to PostgreSQL"
    # Schedule storage: the sensors' stopped state is a row in PostgreSQL's `instigators` table.
    bodies = [
        b
        for b, status in postgres.query("dagster", "SELECT instigator_body, status FROM instigators")
        if status == "STOPPED"
    ]
    assert stopped and all(any(f'"{name}"' in b for b in bodies) for name in stopped), (stopped, bodies)
    assert_mlflow_in_postgres(postgres, last_origin, tmp_path / "mlflow-artifacts")


def assert_history_in_postgres(pg, run_ids: list[str], konk25: tuple[str, str], home: Path) -> None:
    """Runs, materialisations and check results are rows in PostgreSQL; nothing went to SQLite."""
    rows = run_rows(pg, run_ids)
    assert sorted(r[0] for r in rows.values()) == sorted(
        ["konk4_job", "konk25_job", "konk25_job", "demo14_job", "panel_job", "fits_job"]
    )
    assert {r[1] for r in rows.values()} == {"SUCCESS"}
    months = pg.query(
        "dagster",
        "SELECT count(DISTINCT partition) FROM event_logs WHERE asset_key = %s "
        "AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        ('["konk25_raw"]',),
    )[0][0]
    expected_months = (
        (int(konk25[1][:4]) - int(konk25[0][:4])) * 12 + int(konk25[1][5:7]) - int(konk25[0][5:7]) + 1
    )
    assert months == expected_months
    checks = dict(
        pg.query(
            "dagster",
            "SELECT asset_key, count(*) FROM asset_check_executions "
            "WHERE check_name = 'contract' AND execution_status = 'SUCCEEDED' GROUP BY asset_key",
        )
    )
    for asset in ("konk4_raw", "konk25_raw", "demo14_raw", "quarterly_panel", "feature_frame", "fit_glm"):
        assert checks.get(f'["{asset}"]', 0) > 0, (
            f"no passed contract check for {asset} in PostgreSQL: {checks}"
        )
    sqlite_files = [p for p in home.rglob("*.db") if "mlflow" not in p.parts]
    assert sqlite_files == [], f"Dagster wrote SQLite storage despite the Postgres config: {sqlite_files}"
    assert (home / "storage" / "konk25_raw" / f"{konk25[1]}.parquet").exists()


def assert_mlflow_in_postgres(pg, origin: str, artifacts: Path) -> None:
    """Each model's fit for the origin is an MLflow run in the tracking server's PostgreSQL database."""
    runs = pg.query(
        "mlflow",
        "SELECT r.name FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id "
        "WHERE e.name = 'sector-vitality' AND r.status = 'FINISHED'",
    )
    names = sorted(r[0] for r in runs)
    label = f"{origin[:4]}Q{(int(origin[5:7]) - 1) // 3 + 1}"
    assert names == sorted(f"{m}@{label}" for m in MODELS), names
    # Each fit's predictions are logged through the server's artifact proxy into its artifact store.
    logged = list(artifacts.rglob("predictions.csv"))
    assert len(logged) == len(MODELS), f"{len(logged)} predictions.csv under {artifacts}"


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _ok_cmd(cmd: list[str]) -> bool:
    import subprocess

    return subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0
