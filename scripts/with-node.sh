#!/usr/bin/env bash
# Runs a command on the project's Node.js 24 (installed from the npm registry as a dev dependency),
# installing the packages first when they are missing or stale.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2 || { echo "[setup] error: npm ci failed; check access to the npm registry" >&2; exit 1; }
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
case "$(node -v)" in
  v24.*) ;;
  *) echo "[setup] error: expected Node.js 24 from node_modules/.bin/node, found $(node -v); run 'npm ci' again" >&2; exit 1 ;;
esac
exec "$@"
