"""README's layout table is the tree, and a lineage group's code is the module named after the group."""

from __future__ import annotations

import re
from pathlib import Path

from sector_forecast.defs.definitions import defs

REPO = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([^`]+)` \| [^|]+ \| (.+) \|$")


def layout_rows() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    section = text.split("Code layout:", 1)[1].split("\n## ", 1)[0]
    return {m[1]: m[2] for line in section.splitlines() if (m := ROW.match(line))}


def modules_of(folder: Path) -> set[str]:
    return ({p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__")}
            | {p.name for p in folder.iterdir() if (p / "__init__.py").exists()})


def test_every_package_of_the_tree_has_a_row_naming_each_of_its_modules() -> None:
    rows = layout_rows()
    packages = {p.parent.relative_to(REPO).as_posix() + "/" for p in (REPO / "sector_forecast").rglob("__init__.py")}
    packages.discard("sector_forecast/")
    assert packages <= set(rows), f"packages without a README row: {sorted(packages - set(rows))}"
    for path, what in rows.items():
        assert (REPO / path).exists(), f"README names {path}, which is not in the tree"
        if path.endswith("/") and path.startswith(("sector_forecast/", "data/")):
            named = set(re.findall(r"`([a-z_][a-z0-9_]*)`", what))
            subpackages_with_rows = {p.rstrip("/").rsplit("/", 1)[1] for p in rows if p != path and p.startswith(path)}
            expected = modules_of(REPO / path) - subpackages_with_rows
            assert expected <= named, f"{path}: modules missing from README: {sorted(expected - named)}"


def test_each_asset_group_is_the_module_of_the_same_name() -> None:
    groups: dict[str, set[str]] = {}
    for assets_def in defs.assets or []:
        for key in assets_def.keys:
            group = assets_def.specs_by_key[key].group_name
            groups.setdefault(group, set()).add(assets_def.op.compute_fn.decorated_fn.__module__)
    assert {g: m for g, m in groups.items()} == {g: {f"sector_forecast.defs.assets.{g}"} for g in groups}
    assert list(groups) == ["raw", "panel", "features", "models", "evaluation", "forecasts", "monitoring"]
