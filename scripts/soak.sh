#!/usr/bin/env bash
# The long fault soak, by hand: RUNS workflow runs (default 2000) through the operators against a local
# emulator that injects 20% faults on every route (seeded), with a rate limit; prints the figures and
# whether every promise held (exit 1 if not). Takes a few minutes per thousand runs.
#
#   bash scripts/soak.sh                      # 2000 runs
#   RUNS=500 bash scripts/soak.sh --seed 3    # extra arguments go to tests/reliability/soak.py (--help)
#   SOAK_PYTHON=/path/to/python bash scripts/soak.sh   # use an existing environment instead of .venv-test-3.3
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
if [ -n "${SOAK_PYTHON:-}" ]; then
  PY="$SOAK_PYTHON"
else
  ensure_venv "$ROOT/.venv-test-3.3" 3.3 dev
  PY="$VENV_PY"
fi
# Task logs of thousands of runs would drown the figures; errors still show.
export AIRFLOW__LOGGING__LOGGING_LEVEL="${AIRFLOW__LOGGING__LOGGING_LEVEL:-ERROR}"
exec "$PY" "$ROOT/tests/reliability/soak.py" --runs "${RUNS:-2000}" "$@"
