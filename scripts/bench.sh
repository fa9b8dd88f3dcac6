#!/usr/bin/env bash
# Runs one benchmark: npm run bench -- <name> [args]  (bench/<name>.ts; the local stack is started when it needs servers)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
name="${1:-}"
if [ -z "$name" ] || [ ! -f "bench/$name.ts" ]; then
  echo "usage: npm run bench -- <name>   where <name> is one of: $(cd bench && ls *.ts 2>/dev/null | sed 's/\.ts$//' | tr '\n' ' ')" >&2
  exit 2
fi
shift
if grep -q 'needs-stack' "bench/$name.ts"; then bash scripts/stack.sh up; fi
bash scripts/with-node.sh tsc -b tsconfig.build.json
# A bench with packages of its own (bench/<name>/: e.g. other clients to compare with) installs them there, on demand.
if [ -f "bench/$name/install.sh" ]; then bash scripts/with-node.sh bash "bench/$name/install.sh"; fi
exec bash scripts/with-node.sh node "bench/$name.ts" "$@"
