"""README's serving block, read from README.md and run as written with only its paths swapped for the test's.

The serving fixtures build the model's environment and start the scoring server by running these commands, so
the README block is exactly what the tests run: a README edit that breaks it breaks the tests.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from scripts.processes import REPO, VENV_BIN

README = REPO / "README.md"
SERVING_DOC = REPO / "docs" / "serving.md"
# What README's block names, and what a test run puts in its place (longest first: /tmp/sv-env before /tmp).
README_DB_URI = "sqlite:///$PWD/.dagster_home/mlflow/mlflow.db"
README_MODEL_DIR = "/tmp/sector-vitality"
README_ENV = "/tmp/sv-env"
README_WORKDIR = "/tmp"
README_PORT = "5001"


@dataclass(frozen=True)
class ServingBlock:
    """The commands of the block, continuation lines joined: set-up (export, download, build), serve, request."""

    setup: list[str]
    serve: str
    request: str

    def substituted(self, db_uri: str, model_dir: Path, env: Path, workdir: Path, port: int) -> ServingBlock:
        def swap(command: str) -> str:
            command = command.replace(README_DB_URI, db_uri).replace(README_MODEL_DIR, str(model_dir))
            command = command.replace(README_ENV, str(env)).replace(".venv/bin/", f"{VENV_BIN}/")
            command = re.sub(rf"\bcd {re.escape(README_WORKDIR)}(?= )", f"cd {shlex.quote(str(workdir))}", command)
            return command.replace(f"-p {README_PORT}", f"-p {port}").replace(f":{README_PORT}/", f":{port}/")

        return ServingBlock([swap(c) for c in self.setup], swap(self.serve), swap(self.request))


def bash_blocks(text: str) -> list[list[str]]:
    """Every ```bash block of a markdown text (indented ones too), as commands with continuation lines joined."""
    blocks = []
    for match in re.finditer(r"^( *)```bash\n(.*?)^\1```", text, flags=re.M | re.S):
        lines = [line.strip() for line in match.group(2).splitlines()]
        commands, current = [], ""
        for line in lines:
            current = f"{current} {line}".strip() if current else line
            if current.endswith("\\"):
                current = current[:-1].rstrip()
                continue
            if current and not current.startswith("#"):
                commands.append(current)
            current = ""
        blocks.append(commands)
    return blocks


def serving_block(text: str | None = None) -> ServingBlock:
    """README's block that downloads, builds and serves the champion (the one under the *Serving* bullet)."""
    text = README.read_text() if text is None else text
    [commands] = [b for b in bash_blocks(text) if any("mlflow models serve" in c for c in b)]
    [serve] = [c for c in commands if "mlflow models serve" in c]
    [request] = [c for c in commands if c.startswith("curl ")]
    setup = commands[:commands.index(serve)]
    assert setup[0].startswith("export MLFLOW_TRACKING_URI="), setup
    return ServingBlock(setup=setup, serve=serve, request=request)
