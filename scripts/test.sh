#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, then pytest on Airflow 3.3 and again on Airflow 2.11.
# Installs everything it needs into .venv-test-3.3 and .venv-test-2.11 (reused while pyproject and the
# pinned constraints in ci/ are unchanged). Extra arguments go to both pytest runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"

ensure_venv "$ROOT/.venv-test-3.3" 3.3 dev
PY33="$VENV_PY"
ensure_venv "$ROOT/.venv-test-2.11" 2.11 test
PY211="$VENV_PY"

echo "==> ruff"
"$PY33" -m ruff check .
"$PY33" -m ruff format --check .
echo "==> mypy"
"$PY33" -m mypy

# Four pytest workers even on 2 cores: the suite mostly waits on subprocesses, run durations and HTTP.
workers="${PYTEST_WORKERS:-4}"

echo "==> pytest on Airflow 3.3"
"$PY33" -m pytest -n "$workers" -p no:cacheprovider "$@"

echo "==> pytest on Airflow 2.11"
"$PY211" -m pytest -n "$workers" -p no:cacheprovider -m "not e2e" "$@"
