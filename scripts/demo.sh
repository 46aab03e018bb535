#!/usr/bin/env bash
# The demo: the nightly enrichment pipeline, end to end, against a local Sixtyfour emulator.
# Installs what it needs into .venv-demo, keeps its state in .demo/ (wiped at each start) and stops
# everything it started. Extra arguments go to demo/run_demo.py (try --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
cd "$ROOT"
ensure_venv "$ROOT/.venv-demo" 3.3 demo
exec "$VENV_PY" "$ROOT/demo/run_demo.py" "$@"
