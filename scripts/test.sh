#!/usr/bin/env bash
# The whole test suite on a fresh machine: system packages (Chromium for the browser tests, PostgreSQL for
# the Postgres-backed instance), the project's virtual environment, ruff, the import-layer contracts
# (pyproject.toml), the dead-code check (vulture), then pytest. Extra arguments go to pytest
# (e.g. `scripts/test.sh -k raw`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/ruff check .
.venv/bin/lint-imports  # the layer contracts in pyproject.toml
.venv/bin/vulture  # dead code; paths and whitelist in pyproject.toml ([tool.vulture])
exec .venv/bin/python -m pytest "$@"
