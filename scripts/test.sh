#!/usr/bin/env bash
# The whole test suite: packages, the local stack (Kafka, Samba AD, 389-ds), a type-checked build, then jest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Tests start from the seeded directories and an empty Kafka (restored from the provisioning cache in seconds), so
# nothing left by earlier runs, the demo or benchmarks (entries, tombstones, checkpoints) changes what they see.
if [ "${IDSYNC_KEEP_STACK_DATA:-0}" != 1 ]; then bash scripts/stack.sh reset; fi
bash scripts/stack.sh up
bash scripts/with-node.sh tsc -b tsconfig.build.json
# In band: the fault cases' pipelines each sync all of OU=Corp, so two at once would write each other's entries.
exec bash scripts/with-node.sh jest --ci --runInBand "$@"
