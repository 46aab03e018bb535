# Shared by scripts/test.sh: system services the distributed tests need, installed when missing.
# Usage: source scripts/_services.sh; ensure_redis
set -euo pipefail

# redis-server (the Celery broker of tests/distributed/) from Debian's package. Idempotent and quiet:
# nothing happens when it is on PATH; 'apt-get update' runs only when the package is not known yet.
ensure_redis() {
  if command -v redis-server >/dev/null 2>&1; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: redis-server is missing and apt-get is not available to install it" >&2
    return 1
  fi
  echo "==> installing redis-server (Debian package) for the distributed tests"
  local sudo=""
  if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
  if ! apt-cache show redis-server >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
  fi
  # The package's service is not started here: each test starts its own server on a free port.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  command -v redis-server >/dev/null 2>&1
}
