"""`sector-forecast run` exits 0 after its summary: no Parquet file reaches Arrow as a Python file object.

It used to exit 134 now and then *after* printing its summary: pandas opened the stored forecasts with Python's
`open()` and handed Arrow the file object, which Arrow's thread pool released while the interpreter was already
finalising (apache/arrow#34314; `storage.values.read_parquet` lets Arrow open the file itself). The abort showed
in about one full run in three, so the old test ran the whole pipeline three times (3 to 9 minutes) and could
still miss it. Its cause is deterministic: whether Python opens the Parquet file. An audit hook in a fresh
interpreter sees every Python-level `open` (Arrow's own C++ reads raise no audit event); the control, pandas'
default read, shows that the check sees the cause when it is there.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sector_forecast"
SCRIPT = """
import sys
from pathlib import Path

opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0]))
                 if event == "open" and str(args[0]).endswith(".parquet") else None)

import pandas as pd

from sector_forecast.storage.prediction_log import read_prediction_log
from sector_forecast.storage.values import read_stored, write_value

root, how = Path(sys.argv[1]), sys.argv[2]
frame = pd.DataFrame({"sector": range(1, 11), "prediction": [1.5] * 10})
write_value(root / "forecasts" / "value", frame)  # a DataFrame, as the summary's forecasts
write_value(root / "backtest_leaderboard" / "value", {"overall": frame, "origins": 3})  # a bundle with parts
frame.assign(horizon=1).to_parquet(root / "prediction_log.parquet")  # a log of the current layout
opened.clear()
if how == "project":
    read_stored(root, "forecasts")
    read_stored(root, "backtest_leaderboard")
    read_prediction_log(root / "prediction_log.parquet")
else:
    pd.read_parquet(root / "forecasts" / "value.parquet")
print("\\n".join(opened), flush=True)
if how != "project":
    # The control is the very read that can abort while the interpreter finalises (the bug above, about one
    # exit in three): its finding is already printed, so it leaves without finalising.
    import os
    os._exit(0)
"""


def _parquet_opened_by_python(tmp_path: Path, how: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), how], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return [Path(line).name for line in done.stdout.splitlines() if line]


@pytest.mark.parametrize(("how", "expected"), [("project", []), ("pandas default", ["value.parquet"])])
def test_stored_parquet_reaches_arrow_as_a_path_not_a_python_file(tmp_path: Path, how: str, expected: list) -> None:
    assert _parquet_opened_by_python(tmp_path, how) == expected


def test_every_pandas_parquet_read_in_the_package_lets_arrow_open_the_file() -> None:
    """A new `pd.read_parquet(path)` without `filesystem=` would bring the abort back."""
    offending = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "read_parquet" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "pd" and "filesystem" not in {k.arg for k in node.keywords}):
                offending.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not offending, offending
