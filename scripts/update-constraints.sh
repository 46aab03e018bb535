#!/usr/bin/env bash
# Re-pin ci/constraints-airflow-*.txt after a dependency change in pyproject.toml (needs uv on PATH or in a test venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV="$(command -v uv || echo "$ROOT/.venv-test-3.3/bin/uv")"
cd "$ROOT"
for pair in "3.3:3.3.2" "2.11:2.11.2"; do
  series="${pair%%:*}" version="${pair##*:}"
  tmp_in="$(mktemp)"; echo "apache-airflow==$version" >"$tmp_in"
  "$UV" pip compile --quiet --python-version 3.11 pyproject.toml "$tmp_in" --extra dev --no-header \
    -o "ci/constraints-airflow-$series.txt"
  rm -f "$tmp_in"
done
