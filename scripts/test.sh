#!/usr/bin/env bash
# The whole test suite: packages, the local stack (Kafka, Samba AD, 389-ds), a type-checked build, the type checks of
# the tests, benches and scripts, ESLint, then jest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Tests start from the seeded directories and an empty Kafka (restored from the provisioning cache in seconds), so
# nothing left by earlier runs, the demo or benchmarks (entries, tombstones, checkpoints) changes what they see.
if [ "${IDSYNC_KEEP_STACK_DATA:-0}" != 1 ]; then bash scripts/stack.sh reset; fi
bash scripts/stack.sh up
bash scripts/with-node.sh tsc -b tsconfig.build.json
# What the build leaves out (specs, tests; benches and scripts, against the built packages), then ESLint over all the
# TypeScript: any error or warning fails the run before a test starts (npm run typecheck, npm run lint run them alone).
bash scripts/with-node.sh tsc -p tsconfig.jest.json --noEmit
bash scripts/with-node.sh tsc -p tsconfig.node.json
bash scripts/with-node.sh eslint --max-warnings 0 .
# With arguments (a project, a path pattern): one jest run, in band, as asked.
if [ "$#" -gt 0 ]; then exec bash scripts/with-node.sh jest --ci --runInBand "$@"; fi
# The whole suite: unit, integration and the fault cases that stop a server, in band (they share the stack's
# servers); then the other fault cases two at a time (each run's detectors publish only its own OU).
status=0
bash scripts/with-node.sh jest --ci --runInBand --selectProjects unit integration faults-exclusive || status=$?
bash scripts/with-node.sh jest --ci --maxWorkers=2 --selectProjects faults || status=$?
exit "$status"
