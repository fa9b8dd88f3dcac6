#!/bin/sh
# Installs what one image runs, in the current directory (a copy of the built checkout: package.json,
# package-lock.json, libs/ and services/ with their dist/): the production dependencies of the services named
# (services/<name>), their workspace libraries included, nothing else; then removes the workspaces none of them needs.
# The Dockerfile's install stage runs it; scripts/check-image-deps.sh runs it in a temporary copy. Empty names are
# skipped (the Dockerfile's TOOLBOX build argument may be empty).
#   sh scripts/image-install.sh mapper cli
set -eu
workspaces=""
for service in "$@"; do
  [ -n "$service" ] || continue
  [ -f "services/$service/package.json" ] || { echo "image-install: no service services/$service" >&2; exit 1; }
  workspaces="$workspaces --workspace services/$service"
done
[ -n "$workspaces" ] || { echo "usage: image-install.sh <service>..." >&2; exit 2; }
rm -rf node_modules libs/*/node_modules services/*/node_modules
# shellcheck disable=SC2086 # one word per flag and path
npm ci --no-audit --no-fund --omit=dev --omit=optional --include-workspace-root=false $workspaces
# npm links every workspace it installed into node_modules/@idsync; the others are not this image's.
for dir in libs/* services/*; do
  name=$(node -p "require('./$dir/package.json').name")
  [ -e "node_modules/$name" ] || rm -rf "$dir"
done
