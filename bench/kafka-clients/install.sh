#!/usr/bin/env bash
# Installs the Kafka clients compared by bench/kafka-clients.ts into bench/kafka-clients/node_modules (npm ci), when
# missing or stale. Run by scripts/bench.sh on the project's Node.js 24; never part of the product's dependencies.
#
# @confluentinc/kafka-javascript is a native addon around librdkafka. Its install script fetches a prebuilt binary
# from github.com (unreachable here), then falls back to node-gyp. Two settings make that fallback work offline:
#  - npm_config_nodedir: the headers of the Node.js that runs the bench (node-gyp would otherwise download them from
#    nodejs.org, or pick /usr/include/node of another Node.js); the npm package `node` ships them;
#  - CKJS_LINKING=dynamic: build the bundled librdkafka against Debian's libssl/zlib. The default (static) build runs
#    librdkafka's `configure --install-deps --source-deps-only`, which downloads zlib, OpenSSL, zstd and curl sources
#    (zlib.net, github.com, curl.se) and fails.
# It is an optional dependency: when its build fails, npm ci still installs the rest and the bench reports it.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"
if [ -f "$DIR/node_modules/.package-lock.json" ] && [ ! "$DIR/package-lock.json" -nt "$DIR/node_modules/.package-lock.json" ]; then exit 0; fi
nodedir=""
for d in "$ROOT"/node_modules/node/node_modules/node-*; do
  if [ -f "$d/include/node/node.h" ]; then nodedir="$d"; fi
done
echo "[bench] installing the compared Kafka clients in bench/kafka-clients (npm ci; the native build of @confluentinc/kafka-javascript takes 1-2 minutes)" >&2
cd "$DIR"
npm_config_nodedir="$nodedir" CKJS_LINKING=dynamic npm ci --no-audit --no-fund --loglevel=error >&2
