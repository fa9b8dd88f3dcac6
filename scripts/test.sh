#!/usr/bin/env bash
# The whole test suite: packages, the local stack (Kafka, Samba AD, 389-ds), a type-checked build, the type checks of
# the tests, benches and scripts, ESLint, then jest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Tests start from the seeded directories and an empty Kafka (restored from the provisioning cache in seconds), so
# nothing left by earlier runs, the demo or benchmarks (entries, tombstones, checkpoints) changes what they see.
stack_up() {
  if [ "${IDSYNC_KEEP_STACK_DATA:-0}" != 1 ]; then bash scripts/stack.sh reset; fi
  bash scripts/stack.sh up
}
# Packages first: nothing else may run npm ci beside it.
bash scripts/with-node.sh true
# With arguments (a project, a path pattern): the stack, the build, then one jest run, in band, as asked.
if [ "$#" -gt 0 ]; then
  stack_up
  bash scripts/with-node.sh tsc -b tsconfig.build.json
  exec bash scripts/with-node.sh jest --ci --runInBand "$@"
fi
# The whole suite. The stack comes up while the code is built and checked (its servers mostly wait on their own
# start; the checks use the CPU): the type-checked build, what the build leaves out (specs, tests; benches and scripts,
# against the built packages), ESLint over all the TypeScript, then Prettier's check of the formatting; any error,
# warning or unformatted file fails the run before a test starts (npm run typecheck, lint and format:check run them alone).
stack_log="$(mktemp)"
stack_up > "$stack_log" 2>&1 &
stack_pid=$!
checks=0
bash scripts/with-node.sh tsc -b tsconfig.build.json &&
  bash scripts/with-node.sh tsc -p tsconfig.jest.json --noEmit &&
  bash scripts/with-node.sh tsc -p tsconfig.node.json &&
  bash scripts/with-node.sh eslint --max-warnings 0 . &&
  bash scripts/with-node.sh prettier --check --log-level warn . || checks=$?
stack=0
wait "$stack_pid" || stack=$?
cat "$stack_log"
rm -f "$stack_log"
if [ "$stack" -ne 0 ]; then echo "[test] error: the local stack did not come up (its output is above)" >&2; exit "$stack"; fi
if [ "$checks" -ne 0 ]; then echo "[test] error: the build, a type check, ESLint or the formatting check failed (above); no test was run" >&2; exit "$checks"; fi
# Unit, integration and the fault cases that stop a server, in band (they share the stack's servers); then the other
# fault cases two at a time (each run's detectors publish only its own OU).
status=0
bash scripts/with-node.sh jest --ci --runInBand --selectProjects unit integration faults-exclusive || status=$?
bash scripts/with-node.sh jest --ci --maxWorkers=2 --selectProjects faults || status=$?
exit "$status"
