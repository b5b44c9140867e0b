"""The project's Dockerfile built and its services run with podman, as /work/shared/containers.md describes.

No Docker engine runs on these machines. Debian's podman builds the unchanged Dockerfile with chroot isolation
(no OCI runtime needed for RUN steps) from a local Debian base image that mmdebstrap makes from Debian's own
packages, passed in through the Dockerfile's base-image ARG (its default stays the official Python image for
Docker users). The base image is a machine-level cache, kept between runs; the project image and every
container are removed by the context manager that made them, also when the test fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.processes import REPO, background, wait_until

INSTALLER = REPO / "scripts" / "install-system-deps.sh"
BASE_IMAGE = "localhost/bookworm-python:3.11"
# What the local base must hold for the Dockerfile: Debian's Python 3.11 with venv (the official image's
# equivalent), and the CA bundle pip needs (minbase has none).
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates"
# runc, not podman's default crun: crun fails here with "setrlimit RLIMIT_NOFILE: Operation not permitted".
PODMAN = ["podman", "--runtime", "runc"]
# rlimits no higher than the machine's: podman's defaults are refused here ("error setting rlimit type 7").
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
TOOLS = ("podman", "runc", "mmdebstrap")


def ensure_podman() -> None:
    """podman, runc and mmdebstrap must be there; installing them is `scripts/install-system-deps.sh`'s job."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run {INSTALLER.relative_to(REPO)}")


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """One podman command; a failure names the command and its output."""
    reply = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert reply.returncode == 0, f"podman {' '.join(args[:3])} failed:\n{reply.stdout[-2000:]}{reply.stderr}"
    return reply


def ensure_base_image() -> float:
    """The local base image, made once per machine (mmdebstrap + podman import); seconds spent making it."""
    if podman("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return 0.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sector-forecast-base-") as tmp:
        tar = Path(tmp) / "base.tar"
        made = subprocess.run(
            ["mmdebstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(tar)],
            capture_output=True, text=True, timeout=900,
        )
        assert made.returncode == 0, f"mmdebstrap failed:\n{made.stderr[-3000:]}"
        podman("import", str(tar), BASE_IMAGE, timeout=600)
    return time.monotonic() - started


def base_image_arg(dockerfile: Path = REPO / "Dockerfile") -> str:
    """The name of the Dockerfile's ARG that its FROM line takes the base image from."""
    text = dockerfile.read_text()
    from_arg = re.search(r"^FROM\s+\$\{?(\w+)\}?", text, re.MULTILINE)
    assert from_arg, "the Dockerfile's FROM takes its base image from an ARG"
    assert re.search(rf"^ARG {from_arg.group(1)}=\S+", text, re.MULTILINE), "that ARG has a default"
    return from_arg.group(1)


@dataclass(frozen=True)
class Build:
    """A project image built from the Dockerfile, and what it cost."""

    tag: str
    seconds: float
    size_bytes: int
    base_seconds: float


@contextmanager
def project_image(tag: str, log: Path) -> Iterator[Build]:
    """Build the Dockerfile into `tag` on the local base; the image is removed afterwards, the base kept."""
    ensure_podman()
    base_seconds = ensure_base_image()
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with log.open("w") as out:
            built = subprocess.run(
                [
                    *PODMAN, "build",
                    "--isolation", "chroot",  # RUN steps need no OCI runtime this way
                    # pip's downloads go through a certificate authority in this machine's bundle: lend it,
                    # read-only, to the build only (the image keeps its own bundle).
                    "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
                    "--build-arg", f"{base_image_arg()}={BASE_IMAGE}",
                    "-t", tag, str(REPO),
                ],
                stdout=out, stderr=subprocess.STDOUT, timeout=1800,
            )
        seconds = time.monotonic() - started
        assert built.returncode == 0, f"podman build failed:\n{log.read_text(errors='replace')[-4000:]}"
        size = int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
        yield Build(tag=tag, seconds=seconds, size_bytes=size, base_seconds=base_seconds)
    finally:
        podman("rmi", "--force", tag, check=False)


@dataclass
class Container:
    """A running container of the project image: its name, its attached `podman run` and its output."""

    name: str
    proc: subprocess.Popen
    log: Path

    def exec(self, cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        """Run `cmd` inside the container, as the image's user (compose healthchecks run this way)."""
        return podman("exec", self.name, *cmd, timeout=timeout, check=False)

    def wait_for(self, check: Callable[[], bool], timeout: float) -> None:
        wait_until(check, self.name, timeout, self.proc, self.log)


@contextmanager
def container(
    name: str,
    image: str,
    command: list[str],
    env: dict[str, str],
    mounts: dict[Path, str],
    log: Path,
    init: bool = False,
) -> Iterator[Container]:
    """`podman run` one service on the host network; `podman rm -f` it on exit, pass or fail.

    The run stays attached, so the container's output goes to `log` and its exit shows as the process's.
    The environment goes through a file, so passwords are not on any command line.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    env_file = log.with_suffix(".env")
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    env_file.chmod(0o600)
    volumes = [arg for host, inside in mounts.items() for arg in ("--volume", f"{host}:{inside}")]
    cmd = [
        *PODMAN, "run", "--rm", "--name", name,
        "--network", "host",  # services reach each other and PostgreSQL on 127.0.0.1, each on its own port
        *ULIMITS,
        *(["--init"] if init else []),  # compose's `init: true`: an init reaps finished run processes
        "--env-file", str(env_file), *volumes, image, *command,
    ]
    with background(cmd, log) as proc:
        try:
            yield Container(name, proc, log)
        finally:
            podman("rm", "--force", "--time", "10", name, check=False, timeout=60)
