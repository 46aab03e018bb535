#!/usr/bin/env bash
# Re-pin ci/constraints-airflow-*.txt after a dependency change in pyproject.toml (needs uv on PATH or in a test venv).
#
# Each Airflow line is pinned to the dependencies it was released with: `--exclude-newer` a few days after
# that patch release, so that e.g. 3.0.6 gets the pydantic/cadwyn it ran with (today's newest break it).
# Only what this provider itself needs newer (common-compat's `sdk` module) is taken from after the cutoff.
# uv keeps the versions already in an output file, so re-running changes only what a new requirement needs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV="$(command -v uv || echo "$ROOT/.venv-test-3.3/bin/uv")"
cd "$ROOT"

# series:version:cutoff (the cutoff is a few days after the release; 3.3 and 2.11 when they were last pinned).
LINES=("3.0:3.0.6:2025-09-05" "3.1:3.1.8:2026-03-18" "3.2:3.2.2:2026-06-05" "3.3:3.3.2:2026-12-01" "2.11:2.11.2:2026-12-01")
# The provider's own floor (pyproject: apache-airflow-providers-common-compat>=1.23.0) is newer than 3.0-3.2.
PROVIDER_DEPS_CUTOFF="apache-airflow-providers-common-compat=2026-11-01"

for line in "${LINES[@]}"; do
  IFS=: read -r series version cutoff <<<"$line"
  extra=()
  # The wheel venv (scripts/_wheel.sh) also runs the distributed Celery/PostgreSQL cluster tests.
  [ "$series" = "3.3" ] && extra=(apache-airflow-providers-celery "celery<5.7" psycopg2-binary asyncpg)
  # The requirements come on stdin so that the "# via" comments do not name a temporary file.
  printf '%s\n' "apache-airflow==$version" "${extra[@]}" |
    "$UV" pip compile --quiet --python-version 3.11 pyproject.toml - --extra dev --no-header \
      --exclude-newer "$cutoff" --exclude-newer-package "$PROVIDER_DEPS_CUTOFF" \
      -o "ci/constraints-airflow-$series.txt"
done
