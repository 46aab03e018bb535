#!/usr/bin/env bash
# The benchmarks: DAG-parse cost, waiting for N deferred runs, downloads against curl, the emulator's ceiling.
# Installs what it needs into .venv-bench (Airflow 3.3, the provider with its test extras and, as the parse-cost
# baseline, the dbt Cloud provider), runs bench/run_all.py (about 8-10 minutes) and writes BENCHMARKS.md.
# Extra arguments go to bench/run_all.py (try --help; e.g. --only parse,ceiling or --profile tiny).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"

if ! command -v curl >/dev/null 2>&1; then
  echo "error: curl is not on PATH; the download benchmark compares against 'curl -o' (install curl, e.g. apt-get install curl)" >&2
  exit 1
fi

ensure_venv "$ROOT/.venv-bench" 3.3 dev

# The parse-cost baseline, pinned; resolved against the same Airflow constraints as the provider.
DBT_CLOUD="apache-airflow-providers-dbt-cloud==4.11.1"
if ! "$VENV_PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('${DBT_CLOUD%%==*}') != '${DBT_CLOUD##*==}')" 2>/dev/null; then
  echo "==> installing $DBT_CLOUD into .venv-bench (the parse-cost baseline)"
  VIRTUAL_ENV="$ROOT/.venv-bench" "$ROOT/.venv-bench/bin/uv" pip install --quiet --python "$VENV_PY" \
    -c "$ROOT/ci/constraints-airflow-3.3.txt" "$DBT_CLOUD"
fi

export BENCH_COMMAND="bash scripts/bench.sh${*:+ $*}"
exec "$VENV_PY" "$ROOT/bench/run_all.py" "$@"
