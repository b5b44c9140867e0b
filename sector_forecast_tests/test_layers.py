"""The layer contracts in pyproject.toml (`lint-imports`, run by CI) hold for the tree and catch each kind of
violation: the checker runs on a copy of the package with one offending import written into it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` over the `sector_forecast` package found first on PYTHONPATH=`root`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "sector_forecast", tmp_path / "sector_forecast",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and "Contracts: 5 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "offending_import", "contract"), [
    ("domain/metrics.py", "import dagster", "domain is pure maths"),
    ("domain/metrics.py", "from sector_forecast.tracking import runs", "layers:"),
    ("statbank/client.py", "from sector_forecast.domain import sectors", "statbank knows no Dagster"),
    ("statbank/snapshot.py", "import mlflow", "statbank knows no Dagster"),
    ("defs/jobs.py", "from sector_forecast.cli import home", "nothing imports the CLI"),
    ("domain/periods.py", "from sector_forecast.domain import metrics", "no import cycles"),
])
def test_a_violating_import_breaks_its_contract(tree: Path, module: str, offending_import: str,
                                                contract: str) -> None:
    path = tree / "sector_forecast" / module
    path.write_text(path.read_text() + f"\n{offending_import}  # the violation under test\n")
    result = lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]  # each broken contract is listed by name here
    assert contract in broken, result.stdout
