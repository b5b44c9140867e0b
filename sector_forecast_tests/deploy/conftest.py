"""Fixtures for the deployment tests: a private PostgreSQL server from Debian's binaries, and the services of
deploy/docker-compose.yml started as local processes.

No Docker engine runs here, so the compose file's own commands and environment are run on 127.0.0.1: hosts
become 127.0.0.1, container ports become free ports, container paths become temporary directories. What the
compose file says is therefore what the test runs. Every process starts in its own process group and is
killed by the fixture or context manager that started it, also when the test fails.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from scripts.processes import REPO, VENV_BIN, background, free_port, wait_until
from sector_forecast_tests.deploy.services import Service

DEPLOY = REPO / "deploy"
INSTALLER = REPO / "scripts" / "install-system-deps.sh"


# --------------------------------------------------------------------------------------------- PostgreSQL


@dataclass
class PgServer:
    """A running private PostgreSQL cluster on 127.0.0.1 with password authentication."""

    port: int
    user: str
    password: str
    root: Path

    def connect(self, db: str = "postgres"):
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=db,
            connect_timeout=5,
        )

    def create_database(self, name: str) -> None:
        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def query(self, db: str, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()


def postgres_bin_dir() -> Path | None:
    """Newest Debian PostgreSQL server install (/usr/lib/postgresql/<major>/bin), if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def ensure_postgres_installed() -> Path:
    """The server binaries; installing them is `scripts/install-system-deps.sh`'s job, not a fixture's."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.fail(f"PostgreSQL's server binaries are missing: run {INSTALLER.relative_to(REPO)} (installs "
                    "Debian's postgresql)")
    return bin_dir


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as Debian's `postgres` user then."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
    return ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PgServer]:
    """A fresh cluster (initdb) in a temporary directory, started as `postgres` itself and always stopped."""
    bin_dir = ensure_postgres_installed()
    root = Path(tempfile.mkdtemp(prefix="sector-forecast-pg-"))
    try:
        password = "pg-test-" + os.urandom(6).hex()
        (root / "pwfile").write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            shutil.chown(root / "pwfile", "postgres")
        init = subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(root / "data"),
                    "-U",
                    "dagster",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--auth=scram-sha-256",
                    f"--pwfile={root / 'pwfile'}",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}\n{init.stderr}"
        server = PgServer(port=free_port(), user="dagster", password=password, root=root)
        cmd = _as_server_user(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(root / "data"),
                "-p",
                str(server.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={root}",
                # A throwaway cluster: durability settings off make the test faster, nothing else changes.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        )
        log = root / "postgres.log"
        # SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, the server exits cleanly.
        with background(cmd, log, stop_signal=signal.SIGINT) as proc:
            wait_until(lambda: _accepts(server), "PostgreSQL", 60, proc, log)
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _accepts(server: PgServer) -> bool:
    try:
        server.connect().close()
        return True
    except Exception:
        return False


# ----------------------------------------------------------------------------------- compose, run locally


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}")


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, as `docker compose` applies them."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = variables.get(name, "")
        if op == ":?" and not value:
            raise AssertionError(f"compose needs {name}: {arg}")
        return value or (arg if op == ":-" else "")

    return _VAR.sub(one, text)


@dataclass
class ComposeOnHost:
    """docker-compose.yml's services with container addresses mapped onto this machine."""

    compose: dict
    variables: dict[str, str]
    ports: dict[str, tuple[int, int]]  # service -> (container port, local port)
    paths: dict[str, str] = field(default_factory=dict)  # container path -> local path

    def service(self, name: str) -> dict:
        return self.compose["services"][name]

    def localise(self, text: str, own: str | None = None) -> str:
        text = interpolate(str(text), self.variables)
        for service, (inside, local) in self.ports.items():
            text = text.replace(f"{service}:{inside}", f"127.0.0.1:{local}")
        if own is not None:  # a service talking to itself (healthchecks)
            inside, local = self.ports[own]
            text = text.replace(f"127.0.0.1:{inside}", f"127.0.0.1:{local}")
        for inside_path, local_path in self.paths.items():
            text = text.replace(inside_path, local_path)
        return text

    def environment(self, name: str) -> dict[str, str]:
        env = {
            key: self.localise(value) for key, value in (self.service(name).get("environment") or {}).items()
        }
        for key, value in env.items():  # bare host / port variables (DAGSTER_PG_HOST: postgres, ...)
            for service, (inside, local) in self.ports.items():
                if value == service:
                    env[key] = "127.0.0.1"
                elif value == str(inside) and key.endswith("_PORT"):
                    env[key] = str(local)
        return env

    def _args(self, name: str, args: list[str], venv: bool) -> list[str]:
        """0.0.0.0 -> 127.0.0.1, the service's port -> its local port, console scripts from this venv if `venv`.

        `venv=False` keeps the tools as the image has them on its PATH (the image test runs containers).
        """
        args = [self.localise(a, own=name if name in self.ports else None) for a in args]
        args = ["127.0.0.1" if a == "0.0.0.0" else a for a in args]
        if name in self.ports:
            inside, local = self.ports[name]
            args = [
                str(local) if a == str(inside) and args[i - 1] in ("-p", "--port") else a
                for i, a in enumerate(args)
            ]
        tool = VENV_BIN / args[0]
        return [str(tool) if venv and tool.exists() else args[0], *args[1:]]

    def command(self, name: str, venv: bool = True) -> list[str]:
        return self._args(name, list(self.service(name)["command"]), venv)

    def healthcheck(self, name: str, venv: bool = True) -> list[str]:
        test = list(self.service(name)["healthcheck"]["test"])
        assert test[0] == "CMD", f"{name}: healthcheck must be an exec-form CMD to run here"
        return self._args(name, test[1:], venv)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """`spawn(name, cmd, env)` starts a process group; all are stopped when the test ends, pass or fail."""
    with ExitStack() as stack:

        def _spawn(name: str, cmd: list[str], env: dict[str, str]) -> Service:
            log = tmp_path / "logs" / f"{name}.log"
            return Service(name, stack.enter_context(background(cmd, log, env)), log)

        yield _spawn


def compose_services(postgres: PgServer, paths: dict[str, str] | None = None) -> ComposeOnHost:
    """The compose services on free loopback ports against the private PostgreSQL server; `paths` maps the
    image's paths onto this machine's (none when the services run in containers of the image itself)."""
    return ComposeOnHost(
        compose=yaml.safe_load((DEPLOY / "docker-compose.yml").read_text()),
        variables={"POSTGRES_USER": postgres.user, "POSTGRES_PASSWORD": postgres.password},
        ports={
            "postgres": (5432, postgres.port),
            "user_code": (4000, free_port()),
            "webserver": (3000, free_port()),
            "mlflow": (5000, free_port()),
        },
        paths=paths or {},
    )


@pytest.fixture
def compose_on_host(postgres: PgServer, tmp_path: Path) -> ComposeOnHost:
    """The compose services as processes of this venv, the image's paths mapped onto the repository."""
    return compose_services(postgres, {
        "/opt/dagster/app/": f"{REPO}/",
        "/opt/dagster/mlflow-artifacts": str(tmp_path / "mlflow-artifacts"),
    })
