"""What a logged model carries besides its artefacts: the part of `sector_forecast` it imports, and pinned
requirements for exactly the third-party packages that code imports (read from its `import` statements)."""

from __future__ import annotations

import ast
import shutil
import sys
from importlib.metadata import packages_distributions, version
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # this checkout's `sector_forecast` directory
# The `mlflow` module ships in mlflow, mlflow-skinny and mlflow-tracing: the full one serves `models:/…` URIs
# from a SQL registry and brings the scoring server's dependencies.
_DISTRIBUTION = {"mlflow": "mlflow"}


def _ours(name: str) -> bool:
    return name == "sector_forecast" or name.startswith("sector_forecast.")


def _source(name: str) -> Path | None:
    """The file of module `name` of this package, or None when `name` is no such module (a class, another package)."""
    relative = Path(*name.split(".")[1:])
    candidates = [(_PACKAGE / relative).with_suffix(".py")] if relative.parts else []
    found = (c for c in [*candidates, _PACKAGE / relative / "__init__.py"] if c.is_file() and _ours(name))
    return next(found, None)


def import_closure(roots: list[str]) -> set[str]:
    """The `sector_forecast` modules the roots (modules of it) import, transitively, with their packages; and the
    top-level names of the other non-standard-library modules those import (static `import` statements)."""
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen or (source := _source(name)) is None:
            continue
        seen.add(name)
        todo += [name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)]  # its packages' __init__
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            todo += filter(_ours, names)
            seen.update(n.split(".")[0] for n in names
                        if not _ours(n) and n.split(".")[0] not in sys.stdlib_module_names | {"__future__"})
    return seen


def stage_code(modules: set[str], target: Path) -> Path:
    """Copy the closure's `sector_forecast` modules into `target/sector_forecast`, for MLflow's `code_paths`."""
    for name in sorted(filter(_ours, modules)):
        source = _source(name)
        copy = target / source.relative_to(_PACKAGE.parent)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    return target / "sector_forecast"


def serving_requirements(modules: set[str]) -> list[str]:
    """The distributions of the closure's third-party modules, pinned to the versions installed here."""
    owners = packages_distributions()
    names = {_DISTRIBUTION.get(m) or owners[m][0] for m in modules if not _ours(m)}
    # SciPy is not imported by name, but scikit-learn's estimators compute with it: its version is in the numbers.
    return [f"{name}=={version(name)}" for name in sorted(names | {"scipy"})]
