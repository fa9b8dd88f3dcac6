#!/usr/bin/env bash
# The whole test suite: packages, the local stack (Kafka, Samba AD, 389-ds), a type-checked build, then jest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/stack.sh up
bash scripts/with-node.sh tsc -b tsconfig.build.json
exec bash scripts/with-node.sh jest --ci --runInBand "$@"
