#!/usr/bin/env bash
# What CI can check of the production shape without a Docker engine: the compose file is valid,
# and each service's production bundle (the exact step the Dockerfile runs) starts, answers
# /health, and exits cleanly on SIGTERM. Needs `pnpm build` first.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "[production] installing docker-compose from Debian" >&2
  (apt-get update -qq && apt-get install -y -qq docker-compose) >/dev/null 2>&1 || {
    echo "[production] could not install docker-compose" >&2
    exit 1
  }
fi
if env -u API_TOKEN -u ARCHIVER_EVENT_SECRET docker-compose config -q >/dev/null 2>&1; then
  echo "[production] docker-compose.yml must refuse to start without API_TOKEN and ARCHIVER_EVENT_SECRET" >&2
  exit 1
fi
API_TOKEN=check ARCHIVER_EVENT_SECRET=check docker-compose config -q
echo "[production] docker-compose.yml is valid, and refuses to start without its secrets"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
port=39100
for service in database-service archival-service; do
  port=$((port + 1))
  bash scripts/bundle.sh "$service" "$work/$service"
  (cd "$work/$service" && exec env NODE_ENV=production PORT="$port" HOST=127.0.0.1 STORAGE_BACKEND=local \
    LOCAL_STORAGE_PATH="$work/archive" node dist/main.js >"$work/$service.log" 2>&1) &
  pid=$!
  ok=""
  for _ in $(seq 1 50); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  if [ -z "$ok" ]; then
    echo "[production] $service bundle did not answer /health" >&2
    cat "$work/$service.log" >&2
    kill -9 "$pid" 2>/dev/null || true
    exit 1
  fi
  kill -TERM "$pid"
  if ! wait "$pid"; then
    echo "[production] $service bundle did not exit cleanly on SIGTERM" >&2
    cat "$work/$service.log" >&2
    exit 1
  fi
  echo "[production] $service bundle starts, answers /health and stops on SIGTERM"
done
