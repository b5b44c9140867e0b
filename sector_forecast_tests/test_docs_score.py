"""docs/score.md's two measurement blocks run as written and print what the page shows (issue 23: every command
block of the docs runs in a fresh clone). Each block is the page's bash block, run from the repository root."""

from __future__ import annotations

import re
import subprocess

from scripts.processes import REPO
from sector_forecast_tests.deploy.services import isolated_env

DOC = REPO / "docs" / "score.md"
# A ```bash block that runs Python from a heredoc, and the ```text block after it: what the page says it prints.
BLOCK = re.compile(r"```bash\n(\.venv/bin/python - <<'PY'\n.*?\nPY\n)```\s*```text\n(.*?)```", re.S)
ALL_SEEDS = "for seed in (1, 2, 3, 4, 5):"


def _blocks() -> list[tuple[str, str]]:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) == 2, f"docs/score.md: {len(blocks)} python blocks with their output, expected 2"
    return blocks


def _run(script: str) -> str:
    done = subprocess.run(["bash", "-c", script], cwd=REPO, env=isolated_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_bundled_snapshot_block_prints_the_pages_figures() -> None:
    script, shown = _blocks()[0]
    assert _run(script) == shown


def test_the_look_alike_block_prints_the_pages_line_for_its_first_seed() -> None:
    script, shown = _blocks()[1]
    assert ALL_SEEDS in script
    # One seed of the five keeps the test to seconds; each seed's panel is drawn independently of the others.
    assert _run(script.replace(ALL_SEEDS, "for seed in (1,):")) == shown.splitlines(keepends=True)[0]
