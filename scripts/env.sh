# shellcheck shell=bash
# Sourced by ./dev and .ci/run. Puts Node 24 and pnpm on PATH, installing them from the npm
# registry into .tools/ when the machine's own are missing or too old, so a fresh machine needs
# no manual step. Idempotent: a second run only checks versions. Sourced, so it leaves the
# caller's shell options alone and returns non-zero instead of exiting on failure.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
NODE_MAJOR=24
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x "$TOOLS/node/node_modules/node/bin/node" ]; then
  export PATH="$TOOLS/node/node_modules/node/bin:$PATH"
fi
if [ "$(node_major)" -lt "$NODE_MAJOR" ]; then
  echo "[env] system Node is $(node --version 2>/dev/null || echo missing); installing node@$NODE_MAJOR into .tools/node" >&2
  npm install --prefix "$TOOLS/node" "node@$NODE_MAJOR" --no-audit --no-fund --loglevel=error >&2 || return 1
  export PATH="$TOOLS/node/node_modules/node/bin:$PATH"
  if [ "$(node_major)" -lt "$NODE_MAJOR" ]; then
    echo "[env] could not provision Node $NODE_MAJOR (got $(node --version))" >&2
    return 1
  fi
fi

if [ -x "$TOOLS/pnpm/node_modules/.bin/pnpm" ]; then
  export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
fi
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "[env] installing pnpm@$PNPM_VERSION into .tools/pnpm" >&2
  npm install --prefix "$TOOLS/pnpm" "pnpm@$PNPM_VERSION" --no-audit --no-fund --loglevel=error >&2 || return 1
  export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
fi
export COREPACK_ENABLE_STRICT=0
export npm_config_update_notifier=false

# Starts the machine's PostgreSQL and Redis when they are not answering (CI and fresh sessions).
ensure_services() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "[env] starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "[env] starting Redis" >&2
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no || true
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  fi
}

# Installs the real TimescaleDB (built from ../shared/timescaledb's release source) into this
# machine's PostgreSQL when it is not there yet, and makes sure it is preloaded. Instant when it is.
ensure_timescaledb() {
  local installer="${TIMESCALEDB_INSTALLER:-$ROOT/../shared/timescaledb/install.sh}"
  local q="select (select default_version from pg_available_extensions where name = 'timescaledb') || ':' || current_setting('shared_preload_libraries')"
  local have
  have="$(psql -h 127.0.0.1 -U postgres -d postgres -Atqc "$q" 2>/dev/null || true)"
  case "$have" in
    2.*:*timescaledb*) return 0 ;;
  esac
  if [ ! -f "$installer" ]; then
    echo "[env] TimescaleDB is missing and $installer is not there; install TimescaleDB 2.28 into PostgreSQL or set TEST_TIMESCALEDB_URL" >&2
    return 1
  fi
  echo "[env] installing TimescaleDB into the local PostgreSQL (about 2 minutes the first time)" >&2
  bash "$installer" >&2 || return 1
}

# Debian's chromium (the status page's browser test) and prometheus (promtool checks the alert
# rules). Instant when both are there; otherwise one apt-get, as root.
ensure_test_tools() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "[env] installing ${missing[*]} from Debian (browser test, alert rules)" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "[env] not root: install ${missing[*]} with apt-get yourself" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}
