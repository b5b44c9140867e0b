"""The deployment files agree with each other and with the project.

test_deploy_postgres.py runs the compose services' commands as local processes, test_deploy_image.py builds
the Dockerfile and runs them as containers (both read the commands from docker-compose.yml); these fast
checks catch the drift those slow tests would only show later: an unpinned base image, a root container, a
service missing a variable the instance config needs, an image whose pinned Dagster differs from
pyproject.toml, an image default command that is not compose's code server, a build context with the venv.
"""

from __future__ import annotations

import json
import re
import tomllib

import yaml

from scripts.processes import REPO

DEPLOY = REPO / "deploy"
DAGSTER_SERVICES = ("user_code", "webserver", "daemon")


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def env_names(path: str) -> set[str]:
    """Every `env: NAME` a Dagster YAML file reads."""
    return set(re.findall(r"env:\s*([A-Z_][A-Z0-9_]*)", (DEPLOY / path).read_text()))


def test_dockerfile_pins_its_base_and_runs_unprivileged() -> None:
    text = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base, "the base image is set once, in ARG PYTHON_IMAGE"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1)), base.group(1)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert "--require-hashes --no-deps --requirement requirements.lock" in text, "the image installs the lock"


def test_one_image_for_every_dagster_service_and_mlflow() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "user_code", "webserver", "daemon", "mlflow"}
    images = {services[name]["image"] for name in (*DAGSTER_SERVICES, "mlflow")}
    assert len(images) == 1, images
    assert services["postgres"]["image"].split(":")[1][0].isdigit(), "postgres image pinned to a version"


def test_every_dagster_service_gets_what_the_instance_and_workspace_read() -> None:
    needed = env_names("dagster.postgres.yaml") | env_names("workspace.yaml")
    assert {"DAGSTER_PG_PASSWORD", "SECTOR_FORECAST_CODE_HOST"} <= needed
    services = compose()["services"]
    for name in DAGSTER_SERVICES:
        missing = needed - set(services[name]["environment"])
        assert not missing, f"{name} lacks {missing}"
        assert any("dagster_home/storage" in v for v in services[name]["volumes"]), (
            f"{name}: no shared storage"
        )


def test_webserver_and_daemon_load_the_code_server_the_compose_file_starts() -> None:
    services = compose()["services"]
    code = services["user_code"]
    port = code["command"][code["command"].index("-p") + 1]
    assert code["environment"]["SECTOR_FORECAST_CODE_PORT"] == port
    assert "-m" in code["command"] and "sector_forecast.defs.definitions" in code["command"]
    for name in ("webserver", "daemon"):
        workspace = services[name]["command"][services[name]["command"].index("-w") + 1]
        assert workspace == "/opt/dagster/app/deploy/workspace.yaml", workspace
        assert services[name]["depends_on"]["user_code"]["condition"] == "service_healthy"


def test_same_code_location_everywhere() -> None:
    """Local workspace, compose, Helm values and pyproject name the same module and location."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    module = pyproject["tool"]["dagster"]["module_name"]
    local = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    deployed = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"][0]["grpc_server"]
    helm = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    helm_args = helm["dagster-user-deployments"]["deployments"][0]["codeServerArgs"]
    assert local["module_name"] == module and helm_args == ["-m", module]
    assert (
        local["location_name"]
        == deployed["location_name"]
        == pyproject["tool"]["dagster"]["code_location_name"]
    )
    assert module in compose()["services"]["user_code"]["command"]


def test_image_lock_matches_the_pinned_dependencies() -> None:
    """The image installs deploy/requirements.lock: it must pin what pyproject.toml pins, each with hashes."""
    text = (DEPLOY / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, re.MULTILINE))
    assert len(re.findall(r"^[A-Za-z0-9_.-]+==", text, re.MULTILINE)) == len(
        re.findall(r"^[A-Za-z0-9_.-]+==\S+.*\\\n\s+--hash=sha256:", text, re.MULTILINE)), "every pin has hashes"
    pins = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    exact = dict(re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", d).groups() for d in deps if "==" in d)
    assert exact, "pyproject.toml pins the Dagster set exactly"
    for name, version in exact.items():
        assert pins.get(name.lower()) == version, (
            f"{name}: pyproject {version}, lock {pins.get(name.lower())}"
        )
    assert "psycopg2-binary" in pins, "PostgreSQL storage and the MLflow server need psycopg2"


def test_the_image_default_command_is_the_compose_code_server() -> None:
    """`docker run` of the image without a command starts exactly what compose's `user_code` starts."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = re.findall(r"^CMD\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert len(cmd) == 1, cmd
    assert json.loads(cmd[0]) == compose()["services"]["user_code"]["command"]


def test_the_build_context_leaves_out_what_the_image_does_not_need() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "test-artifacts", "*.egg-info", "**/__pycache__", ".dagster_home"} <= ignored
