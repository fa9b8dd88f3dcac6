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
# A narrowed run (npm test -- --testPathPatterns x) is one jest, in band.
if [ $# -gt 0 ]; then exec bash scripts/with-node.sh jest --ci --runInBand "$@"; fi
# Unit and integration tests in band; fault cases that break only their own services side by side (two workers);
# then, alone, those that stop, freeze or kill a shared server. Every part runs; the exit status says if any failed.
status=0
bash scripts/with-node.sh jest --ci --runInBand --selectProjects unit integration || status=1
bash scripts/with-node.sh jest --ci --maxWorkers=2 --selectProjects faults || status=1
bash scripts/with-node.sh jest --ci --runInBand --selectProjects faults-exclusive || status=1
exit "$status"
