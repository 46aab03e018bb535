# Sourced by scripts/test.sh after _venv.sh: build the sdist and the wheel users install, check what they
# hold, install the wheel (not editable) into .venv-wheel-3.3 and run it as a user would.
# That venv also has the Celery provider and psycopg2 (pinned in ci/constraints-airflow-3.3.txt): the
# distributed cluster tests run every Airflow process from it, through $SIXTYFOUR_CLUSTER_PYTHON.
set -euo pipefail

# Usage: build_dist UV -> sets WHEEL to the built wheel (sdist and wheel in $ROOT/dist, made anew).
build_dist() {
  local uv="$1"
  rm -rf "$ROOT/dist"
  echo "==> building the sdist and the wheel (the wheel from the sdist)"
  "$uv" build --quiet --out-dir "$ROOT/dist" "$ROOT"
  "$(dirname "$uv")/python" "$ROOT/scripts/check_dist.py" "$ROOT/dist"
  WHEEL="$(ls "$ROOT"/dist/*.whl)"
}

# Usage: ensure_wheel_venv DIR WHEEL -> sets WHEEL_PY; the venv's provider is always this very wheel.
ensure_wheel_venv() {
  local dir="$1" wheel="$2"
  ensure_venv "$dir" 3.3 wheel "$wheel[demo]" apache-airflow-providers-celery psycopg2-binary asyncpg
  # The wheel's name does not change between builds of one version: replace the installed copy every time.
  "$dir/bin/uv" pip install --quiet --python "$dir/bin/python" --no-deps \
    --reinstall-package airflow-provider-sixtyfour "$wheel"
  WHEEL_PY="$VENV_PY"
}

# Usage: wheel_smoke PY -> providers list, example DAGs parse, one example DAG end to end on the emulator.
wheel_smoke() {
  echo "==> the installed wheel: providers list, example DAGs, airflow dags test against the emulator"
  "$1" "$ROOT/scripts/wheel_smoke.py"
}
