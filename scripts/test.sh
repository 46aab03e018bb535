#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, types, the wheel users install, then pytest: the whole suite
# on Airflow 3.3 and on 2.11, and the compatibility subset (-m compat, tests/compat.py) on 3.0, 3.1 and 3.2.
# Installs everything it needs into .venv-test-<series> and .venv-wheel-3.3 (reused while pyproject and
# the pinned constraints in ci/ are unchanged). Extra arguments go to every pytest run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_wheel.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_services.sh"
cd "$ROOT"

COMPAT_SERIES=(3.0 3.1 3.2)
ensure_venv "$ROOT/.venv-test-3.3" 3.3 dev
PY33="$VENV_PY"
ensure_venv "$ROOT/.venv-test-2.11" 2.11 test
PY211="$VENV_PY"
for series in "${COMPAT_SERIES[@]}"; do
  ensure_venv "$ROOT/.venv-test-$series" "$series" test
done

echo "==> ruff"
"$PY33" -m ruff check .
"$PY33" -m ruff format --check .
echo "==> mypy"
"$PY33" -m mypy

build_dist "$ROOT/.venv-test-3.3/bin/uv"
ensure_wheel_venv "$ROOT/.venv-wheel-3.3" "$WHEEL"
wheel_smoke "$WHEEL_PY"
# The distributed cluster tests run every Airflow process from the installed wheel.
export SIXTYFOUR_CLUSTER_PYTHON="$WHEEL_PY"

# Four pytest workers even on 2 cores: the suite mostly waits on subprocesses, run durations and HTTP.
workers="${PYTEST_WORKERS:-4}"

echo "==> pytest on Airflow 3.3"
ensure_redis  # the Celery broker of tests/distributed/
# loadgroup: the distributed drills (one xdist_group) share one cluster on one worker; others load-balance.
"$PY33" -m pytest -n "$workers" --dist loadgroup -p no:cacheprovider "$@"

echo "==> pytest on Airflow 2.11"
"$PY211" -m pytest -n "$workers" -p no:cacheprovider -m "not e2e and not distributed" "$@"

for series in "${COMPAT_SERIES[@]}"; do
  echo "==> pytest on Airflow $series: the compatibility subset"
  "$ROOT/.venv-test-$series/bin/python" -m pytest -n "$workers" -p no:cacheprovider -m "compat and not e2e and not distributed" "$@"
done
