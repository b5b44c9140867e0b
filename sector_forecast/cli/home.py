"""The Dagster instance every CLI command shares: `$DAGSTER_HOME`, or `./.dagster_home` made on first use."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def ensure_dagster_home() -> Path:
    """`$DAGSTER_HOME`, or `./.dagster_home` created with the project's `dagster.yaml` when unset."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    template = REPO_ROOT / "dagster.yaml"
    if not config.exists() and template.exists():
        shutil.copyfile(template, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
