#!/usr/bin/env bash
# Production bundle of one service: its built dist/ and production dependencies only, workspace
# packages included. The Dockerfile runs exactly this; CI runs it too and starts the result, so a
# broken production build fails CI even where no Docker engine exists.
#   scripts/bundle.sh archival-service|database-service OUT_DIR     (after `pnpm build`)
set -euo pipefail
service="${1:?service name}"
out="${2:?output directory}"
case "$service" in archival-service|database-service) ;; *) echo "unknown service: $service" >&2; exit 2 ;; esac
rm -rf "$out"
pnpm --filter "@chunk-archiver/$service" deploy --prod --legacy "$out" >&2
test -f "$out/dist/main.js"
