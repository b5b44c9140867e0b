"""The project's Dockerfile, built and run for real: one image serves the whole deployment.

Builds the Dockerfile with podman (podman.py), then starts the services of deploy/docker-compose.yml from
that one image, each in its own container on the host network as the image's unprivileged user, with the
compose file's own commands, environment, volumes and healthchecks (container ports mapped to free
loopback ports, see conftest.ComposeOnHost): the MLflow tracking server (backend store in the private
PostgreSQL cluster, artifacts in a mounted directory), the code location's gRPC server, dagster-webserver
and dagster-daemon. Through the webserver's GraphQL it checks the code location loads, then materialises the
whole graph on the bundled snapshot down to `forecasts`, stage by stage as `sector-forecast run` does, and
checks the results where they are stored: PostgreSQL's event log, the tracking server's REST API, files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from dagster_graphql import DagsterGraphQLClient

from scripts.processes import REPO, graphql_over_http, log_tail
from sector_forecast.defs.partitions import origin_partitions, quarter_key_to_label
from sector_forecast.defs.pipeline import published_ranges
from sector_forecast.domain.forecasters import MODELS as MODEL_CATALOGUE
from sector_forecast.statbank import StatBankClient
from sector_forecast_tests.deploy.conftest import PgServer, compose_services
from sector_forecast_tests.deploy.podman import Build, Container, container, project_image
from sector_forecast_tests.deploy.runs import submit, wait_for_runs
from sector_forecast_tests.deploy.services import REPOSITORY, stop_instigators

# dagster_graphql's client calls gql with arguments gql has deprecated; not ours to fix.
pytestmark = [
    pytest.mark.image,
    pytest.mark.postgres,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gql"),
]

IMAGE_USER = 10001  # the Dockerfile's `dagster` user and group
MODELS = tuple(MODEL_CATALOGUE)  # every fit asset: four baselines, three challengers
# The graph down to `forecasts`, in dependency order: raw tables side by side, then one stage at a time.
RAW_STAGES = ("konk4_job", "konk25_job", "demo14_job")
LATER_STAGES = ("panel_job", "fits_job", "evaluation_job")
ASSETS = (
    "konk4_raw", "konk25_raw", "demo14_raw", "quarterly_panel", "feature_frame",
    *(f"fit_{m}" for m in MODELS), "backtest_leaderboard", "champion_model", "forecasts",
)
REGISTERED_MODEL = "sector-vitality"  # MlflowResource's experiment and registered model name
ARTIFACTS = REPO / "test-artifacts" / "deploy"  # the measurements, as e2e keeps its screenshots


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """The Dockerfile built once for this module; removed afterwards (the local base image is kept)."""
    logs = tmp_path_factory.mktemp("image-build")
    with project_image(f"localhost/sector-forecast:test-{os.urandom(4).hex()}", logs / "build.log") as build:
        yield build


def mounts(service: dict, named: dict[str, Path]) -> dict[Path, str]:
    """The service's compose volumes, each named volume a host directory mounted at the compose path."""
    found = {}
    for spec in service.get("volumes") or []:
        source, inside = spec.split(":")[:2]
        assert source in named, f"compose volume {source} has no directory in this test"
        found[named[source]] = inside
    return found


def location_loaded(graphql) -> bool:
    """The webserver reached the code server and loaded the `sector_forecast` location from it."""
    try:
        data = graphql(
            "{ workspaceOrError { ... on Workspace { locationEntries { name "
            "locationOrLoadError { __typename ... on PythonError { message } } } } } }",
            {},
        )
    except Exception:
        return False
    entries = data["workspaceOrError"].get("locationEntries") or []
    return any(
        e["name"] == "sector_forecast" and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        for e in entries
        if e.get("locationOrLoadError")
    )


def job_names(graphql) -> set[str]:
    data = graphql(
        "query Jobs($sel: RepositorySelector!) { repositoryOrError(repositorySelector: $sel) "
        "{ __typename ... on Repository { jobs { name } } } }",
        {"sel": REPOSITORY},
    )
    return {job["name"] for job in data["repositoryOrError"]["jobs"]}


# The whole graph on two cores, each run a new process in the code-server container, after a ~1 min
# build: longer than the suite's 900 s default, which is kept for every other test.
@pytest.mark.timeout(2400)
def test_one_image_runs_the_deployment_and_the_whole_graph(
    postgres: PgServer, image: Build, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    started = time.monotonic()
    postgres.create_database("dagster")
    postgres.create_database("mlflow")
    compose = compose_services(postgres)  # paths stay the image's own
    named = {"dagster_storage": tmp_path / "storage", "mlflow_artifacts": tmp_path / "mlflow-artifacts"}
    for directory in named.values():
        directory.mkdir()
        os.chown(directory, IMAGE_USER, IMAGE_USER)  # as the image's volumes are: writable by its user
    suffix = os.urandom(3).hex()
    running: dict[str, Container] = {}

    def tails() -> str:
        return "\n".join(f"--- {name}\n{log_tail(c.log, 2500)}" for name, c in running.items())

    with ExitStack() as stack:

        def start(name: str) -> Container:
            service = compose.service(name)
            running[name] = stack.enter_context(
                container(
                    f"sector-forecast-{name}-{suffix}", image.tag, compose.command(name, venv=False),
                    compose.environment(name), mounts(service, named), tmp_path / "logs" / f"{name}.log",
                    init=bool(service.get("init")),
                )
            )
            return running[name]

        for name in ("mlflow", "user_code", "webserver"):
            start(name)
        # Each service is ready when compose's own healthcheck passes, run inside its container.
        for name, timeout in (("mlflow", 180), ("user_code", 180), ("webserver", 180)):
            box = running[name]
            box.wait_for(lambda b=box, n=name: b.exec(compose.healthcheck(n, venv=False)).returncode == 0, timeout)
        for name, box in running.items():
            ids = box.exec(["id", "-u"]).stdout.strip(), box.exec(["id", "-g"]).stdout.strip()
            assert ids == (str(IMAGE_USER), str(IMAGE_USER)), f"{name} runs as {ids}, not the image's user"

        web_port = compose.ports["webserver"][1]
        graphql = graphql_over_http(f"http://127.0.0.1:{web_port}/graphql")
        running["webserver"].wait_for(lambda: location_loaded(graphql), 120)
        assert {*RAW_STAGES, *LATER_STAGES} <= job_names(graphql)
        # This test decides which runs happen: sensors and schedules off before the daemon starts.
        stop_instigators(graphql)
        start("daemon")

        client = DagsterGraphQLClient("127.0.0.1", port_number=web_port)
        ranges = published_ranges(StatBankClient())  # the bundled snapshot, the same files as in the image
        run_ids = [submit(client, job, ranges[job]) for job in RAW_STAGES]
        wait_for_runs(postgres, run_ids, 600, tails)
        for job in LATER_STAGES:
            run_ids.append(submit(client, job, ranges[job]))
            wait_for_runs(postgres, run_ids[-1:], 1200, tails)
        pipeline_seconds = time.monotonic() - started

        origins = [
            quarter_key_to_label(key)
            for key in origin_partitions.get_partition_keys()
            if ranges["fits_job"][0] <= key <= ranges["fits_job"][1]
        ]
        assert_events_in_postgres(postgres, run_ids, len(origins))
        assert_tracking_server(f"http://127.0.0.1:{compose.ports['mlflow'][1]}", origins)
    assert_files_written_by_the_image_user(named)

    line = (
        f"[image] base image made in {image.base_seconds:.0f}s (0 = cached); project image built in "
        f"{image.seconds:.0f}s, {image.size_bytes / 1e9:.2f} GB; deployment up and the graph down to "
        f"forecasts ({len(origins)} origins) in {pipeline_seconds:.0f}s; checks done at "
        f"{time.monotonic() - started:.0f}s after the build"
    )
    # Printed past pytest's capture; an xdist worker's output is not shown, so the line is also kept in a file.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "image.txt").write_text(line + "\n")
    with capsys.disabled():
        print("\n" + line)


def assert_events_in_postgres(pg: PgServer, run_ids: list[str], n_origins: int) -> None:
    """Every run succeeded and every asset of the graph was materialised, as rows of PostgreSQL's event log."""
    successes = pg.query(  # DagsterEventType.RUN_SUCCESS keeps its old stored name, PIPELINE_SUCCESS
        "dagster",
        "SELECT count(DISTINCT run_id) FROM event_logs WHERE run_id = ANY(%s) "
        "AND dagster_event_type = 'PIPELINE_SUCCESS'",
        (run_ids,),
    )[0][0]
    assert successes == len(run_ids)
    materialised = dict(
        pg.query(
            "dagster",
            "SELECT asset_key, count(DISTINCT coalesce(partition, '')) FROM event_logs WHERE run_id = ANY(%s) "
            "AND dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY asset_key",
            (run_ids,),
        )
    )
    assert set(materialised) == {f'["{asset}"]' for asset in ASSETS}, materialised
    for model in MODELS:
        assert materialised[f'["fit_{model}"]'] == n_origins, (model, materialised)


def assert_tracking_server(url: str, origins: list[str]) -> None:
    """One MLflow run per model and origin plus the gate's, and the champion registered, per the REST API."""
    api = f"{url}/api/2.0/mlflow"
    experiment = requests.get(
        f"{api}/experiments/get-by-name", params={"experiment_name": REGISTERED_MODEL}, timeout=30
    )
    assert experiment.status_code == 200, experiment.text
    exp_id = experiment.json()["experiment"]["experiment_id"]
    names, token = [], None
    while True:
        page = requests.post(
            f"{api}/runs/search",
            json={"experiment_ids": [exp_id], "max_results": 1000, **({"page_token": token} if token else {})},
            timeout=60,
        )
        assert page.status_code == 200, page.text
        body = page.json()
        names += [run["info"]["run_name"] for run in body.get("runs", []) if run["info"]["status"] == "FINISHED"]
        token = body.get("next_page_token")
        if not token:
            break
    gates = [n for n in names if n.startswith("promotion-gate ")]
    fits = sorted(n for n in names if not n.startswith("promotion-gate "))
    assert fits == sorted(f"{m}@{o}" for m in MODELS for o in origins), fits[:10]
    assert len(gates) == 1, gates
    alias = requests.get(
        f"{api}/registered-models/alias", params={"name": REGISTERED_MODEL, "alias": "champion"}, timeout=30
    )
    assert alias.status_code == 200, alias.text
    version = alias.json()["model_version"]
    assert version["name"] == REGISTERED_MODEL and version["status"] == "READY", version
    champion = {t["key"]: t["value"] for t in version.get("tags", [])}
    assert gates[0] == f"promotion-gate {champion['model']}@{champion['origin']}", (gates, champion)


def assert_files_written_by_the_image_user(named: dict[str, Path]) -> None:
    """Asset values and the MLflow model landed in the mounted directories, written by the image's user."""
    forecasts = list((named["dagster_storage"] / "forecasts").rglob("*"))
    assert forecasts, f"no forecasts under {named['dagster_storage']}"
    models = list(named["mlflow_artifacts"].rglob("MLmodel"))
    assert models, f"no MLflow model under {named['mlflow_artifacts']}"
    for path in (*forecasts, *models):
        assert path.stat().st_uid == IMAGE_USER, f"{path} owned by uid {path.stat().st_uid}"
