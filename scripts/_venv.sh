# Shared by scripts/test.sh and scripts/demo.sh: make (or reuse) a venv with a pinned Airflow.
# Usage: ensure_venv DIR AIRFLOW_SERIES EXTRAS [REQUIREMENT...] -> sets VENV_PY to the venv's python.
# Without REQUIREMENTs it installs this checkout editable with EXTRAS; with them, exactly those (e.g. a wheel).
# The venv is reused while pyproject, the series' constraints in ci/ and the arguments are unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

find_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
        command -v "$candidate"
        return 0
    fi
  done
  echo "error: Python 3.11 or newer is needed (python3.11 not found on PATH)" >&2
  return 1
}

ensure_venv() {
  local dir="$1" series="$2" extras="$3"
  shift 3
  local requirements=("$@")
  [ "${#requirements[@]}" -gt 0 ] || requirements=(-e "$ROOT[$extras]")
  local constraints="$ROOT/ci/constraints-airflow-$series.txt"
  if [ ! -f "$constraints" ]; then
    echo "error: no pinned constraints for Airflow $series ($constraints); see scripts/update-constraints.sh" >&2
    return 1
  fi
  local stamp_want
  stamp_want="$(cat "$ROOT/pyproject.toml" "$constraints" | sha256sum | cut -c1-16)-$extras-bytecode ${requirements[*]#"$ROOT"}"
  if [ ! -x "$dir/bin/python" ]; then
    echo "==> creating $dir (Airflow $series)"
    "$(find_python)" -m venv "$dir"
  fi
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp_want" ]; then
    echo "==> installing ${requirements[*]#"$ROOT/"} with Airflow $series into $dir"
    "$dir/bin/python" -m pip install --quiet --upgrade uv
    VIRTUAL_ENV="$dir" "$dir/bin/uv" pip install --quiet --python "$dir/bin/python" \
      -c "$constraints" "${requirements[@]}"
    # Compiled to bytecode here, once: where PYTHONDONTWRITEBYTECODE is set (as on the machines this
    # project runs on) Python would otherwise compile Airflow's modules again in every process, about
    # 3.5 CPU seconds per `airflow` command, and the suite starts hundreds of them. (-qq: a few files
    # that packages ship for other Pythons do not compile, and need not.)
    "$dir/bin/python" -m compileall -qq -j 0 "$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" || true
    echo "$stamp_want" >"$dir/.stamp"
  fi
  VENV_PY="$dir/bin/python"
}
