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

# The distributed drills mostly wait on their cluster's runs: they run in the background, beside every
# stage below, and their output is printed when they end (CI's 2 cores: 25 minutes instead of 30).
echo "==> pytest on Airflow 3.3: the distributed cluster drills, in the background (output at the end)"
ensure_redis  # the Celery broker of tests/distributed/
DIST_LOG="$(mktemp "${TMPDIR:-/tmp}/sixtyfour-distributed.XXXXXX")"
# A background job starts with SIGINT ignored; restore Python's handler so that the SIGINT below makes
# pytest tear the cluster down (every process of it) before it exits, as SIGTERM would not.
"$PY33" -c 'import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); sys.exit(pytest.main(sys.argv[1:]))' \
  -p no:cacheprovider -m distributed "$@" >"$DIST_LOG" 2>&1 &
DIST_PID=$!
trap 'kill -INT "$DIST_PID" 2>/dev/null && wait "$DIST_PID"; cat "$DIST_LOG"' EXIT

echo "==> pytest on Airflow 3.3"
"$PY33" -m pytest -n "$workers" -p no:cacheprovider -m "not distributed" "$@"

echo "==> pytest on Airflow 2.11"
"$PY211" -m pytest -n "$workers" -p no:cacheprovider -m "not e2e and not distributed" "$@"

for series in "${COMPAT_SERIES[@]}"; do
  echo "==> pytest on Airflow $series: the compatibility subset"
  "$ROOT/.venv-test-$series/bin/python" -m pytest -n "$workers" -p no:cacheprovider -m "compat and not e2e and not distributed" "$@"
done

echo "==> the distributed cluster drills (Airflow 3.3), run in the background since the 3.3 stage"
trap - EXIT
dist_rc=0
wait "$DIST_PID" || dist_rc=$?
cat "$DIST_LOG"
exit "$dist_rc"
