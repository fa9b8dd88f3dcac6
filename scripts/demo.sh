#!/usr/bin/env bash
# The main job on the local stack: brings the stack up, builds, and runs the five services (and the password agent
# when the configuration has services.password-agent) with config/demo.yaml,
# printing what each one does, then walks through a few changes made on each side (scripts/demo/walkthrough.ts).
# Ctrl-C stops the services. Options: --for SECONDS (stop by itself), --config FILE, --no-walkthrough.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION=""
CONFIG="$ROOT/config/demo.yaml"
WALKTHROUGH=1
while [ $# -gt 0 ]; do
  case "$1" in
    --for) DURATION="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --no-walkthrough) WALKTHROUGH=0; shift ;;
    -h | --help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (use --for SECONDS or --config FILE)" >&2; exit 2 ;;
  esac
done

bash scripts/stack.sh up
bash scripts/with-node.sh tsc -b tsconfig.build.json
STACK_ENV="$(bash scripts/stack.sh env)"
set -a
# shellcheck disable=SC1090
. "$STACK_ENV"
set +a
export IDSYNC_CONFIG="$CONFIG"
bash scripts/with-node.sh node libs/config/dist/cli.js validate "$CONFIG"
# Each service has its own Kafka account; the stack's administrator gives each the ACLs it needs (and only those).
bash scripts/with-node.sh node services/cli/dist/main.js kafka-acls --apply

SERVICES=(ad-detector ds-detector mapper ad-writer ds-writer)
PORTS=(8181 8182 8183 8184 8185)
# The password agent (services/password-agent) runs only when the configuration has a services.password-agent block;
# it runs samba-tool against the local Samba DC, so it needs root (as the stack itself does).
AGENT_PORT="$(bash scripts/with-node.sh node -e '
  const { parse } = require("yaml");
  const doc = parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const agent = doc && doc.services && doc.services["password-agent"];
  if (agent) process.stdout.write(String(agent.httpPort ?? 8186));
' "$CONFIG")"
if [ -n "$AGENT_PORT" ]; then
  SERVICES+=(password-agent)
  PORTS+=("$AGENT_PORT")
fi
PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

for service in "${SERVICES[@]}"; do
  # Process substitution keeps $! the service's own PID (with-node.sh execs node), so stopping it stops the service.
  bash scripts/with-node.sh node "services/$service/dist/main.js" > >(sed -u "s/^/[$service] /") 2>&1 &
  PIDS+=($!)
done

# Wait for every health endpoint, then show what each reports.
for i in "${!SERVICES[@]}"; do
  for _ in $(seq 120); do
    curl -fs "http://127.0.0.1:${PORTS[$i]}/health" > /dev/null 2>&1 && break
    sleep 0.5
  done
  printf '[demo] %-14s http://127.0.0.1:%s/health -> %s\n' "${SERVICES[$i]}" "${PORTS[$i]}" \
    "$(curl -s "http://127.0.0.1:${PORTS[$i]}/health" || echo unreachable)"
done

STATUS=0
if [ "$WALKTHROUGH" = 1 ]; then
  bash scripts/with-node.sh node scripts/demo/walkthrough.ts || { STATUS=1; echo "[demo] the walkthrough failed; the services keep running so you can look at their logs" >&2; }
fi

if [ -n "$DURATION" ]; then sleep "$DURATION"; exit "$STATUS"; fi
echo "[demo] running; make changes under OU=Corp (AD) or ou=Corp (389-ds) and watch them cross; Ctrl-C stops the services"
wait
