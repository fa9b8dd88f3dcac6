#!/usr/bin/env bash
# Checks what the Dockerfile installs in a service's image, without a container engine: builds the checkout, copies
# what the Dockerfile's install stage copies (package.json, package-lock.json, libs/, services/ without node_modules)
# into a temporary directory, runs scripts/image-install.sh there with the same arguments, then fails when
#   - a package the lock file marks as dev-only (jest, typescript, @types/*, ...) was installed,
#   - the @idsync workspaces installed are not exactly the service's (and the toolbox's) dependency closure,
#   - a require() or import() of a package in the installed dist/ files (lazy ones too) resolves to nothing,
#   - services/<service>/dist/main.js fails on a missing module (it stops for want of a configuration: expected),
#   - the idsync command, when installed, cannot print its usage.
# It lists the packages installed.
#   bash scripts/check-image-deps.sh mapper              # as docker build --build-arg SERVICE=mapper
#   TOOLBOX= bash scripts/check-image-deps.sh mapper     # as docker build --build-arg SERVICE=mapper --build-arg TOOLBOX=
# KEEP=1 keeps the temporary directory.
set -euo pipefail
SERVICE="${1:?usage: check-image-deps.sh <service>  (services/<service>; TOOLBOX= to leave out the idsync command)}"
TOOLBOX="${TOOLBOX-cli}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$ROOT/services/$SERVICE/package.json" ] || { echo "no service services/$SERVICE" >&2; exit 2; }

echo "[check-image-deps] building (tsc -b tsconfig.build.json)" >&2
bash "$ROOT/scripts/with-node.sh" tsc -b "$ROOT/tsconfig.build.json"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/idsync-image-$SERVICE.XXXXXX")"
cleanup() { if [ "${KEEP:-}" = 1 ]; then echo "[check-image-deps] kept $WORK" >&2; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$WORK/"
tar -C "$ROOT" --exclude=node_modules -cf - libs services | tar -C "$WORK" -xf -

# The same command as the Dockerfile's install stage, on the project's Node.js 24 (as the image's).
export PATH="$ROOT/node_modules/.bin:$PATH"
echo "[check-image-deps] $WORK: sh image-install.sh $SERVICE ${TOOLBOX:-''}" >&2
(cd "$WORK" && sh "$ROOT/scripts/image-install.sh" "$SERVICE" "$TOOLBOX")

cd "$WORK"
SERVICE="$SERVICE" TOOLBOX="$TOOLBOX" node - <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');
const lock = require('./package-lock.json').packages;
const problems = [];

// Every package installed, as npm laid it out (node_modules/a, node_modules/@s/b, node_modules/a/node_modules/c).
const installed = [];
const walk = (dir) => {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const at = path.join(dir, entry);
    if (entry.startsWith('@')) { for (const inner of fs.readdirSync(at)) visit(path.join(at, inner)); continue; }
    visit(at);
  }
};
const visit = (at) => { installed.push(at); if (!fs.lstatSync(at).isSymbolicLink()) walk(path.join(at, 'node_modules')); };
walk('node_modules');
for (const at of installed) {
  const entry = lock[at];
  if (entry === undefined) problems.push(`${at}: installed, not in package-lock.json`);
  else if (entry.dev === true) problems.push(`${at}: a dev-only package in the image`);
}

// The workspaces: exactly the closure of what the services named declare.
const workspaces = new Map();
for (const parent of ['libs', 'services']) for (const dir of fs.existsSync(parent) ? fs.readdirSync(parent) : []) {
  const manifest = JSON.parse(fs.readFileSync(path.join(parent, dir, 'package.json'), 'utf8'));
  workspaces.set(manifest.name, { dir: `${parent}/${dir}`, manifest });
}
const lockWorkspaces = new Map(Object.entries(lock).filter(([key, value]) => /^(libs|services)\//.test(key) && value.name).map(([key, value]) => [value.name, { dir: key, manifest: value }]));
const closure = new Set();
const add = (name) => {
  if (closure.has(name)) return;
  closure.add(name);
  for (const dep of Object.keys(lockWorkspaces.get(name)?.manifest.dependencies ?? {})) if (lockWorkspaces.has(dep)) add(dep);
};
for (const service of [process.env.SERVICE, process.env.TOOLBOX].filter(Boolean)) add(`@idsync/${service}`);
const linked = installed.filter((at) => at.startsWith('node_modules/@idsync/')).map((at) => at.slice('node_modules/'.length));
const sorted = (items) => [...items].sort();
if (JSON.stringify(sorted(linked)) !== JSON.stringify(sorted(closure))) problems.push(`workspaces linked ${sorted(linked).join(' ')}, expected ${sorted(closure).join(' ')}`);
if (JSON.stringify(sorted(workspaces.keys())) !== JSON.stringify(sorted(closure))) problems.push(`workspace directories kept ${sorted(workspaces.keys()).join(' ')}, expected ${sorted(closure).join(' ')}`);

// Every require() in the installed workspaces' built files resolves from where it is (the lazy ones too).
const jsFiles = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(path.join(dir, e.name)) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : []));
let requires = 0;
for (const { dir } of workspaces.values()) {
  if (!fs.existsSync(path.join(dir, 'dist'))) { problems.push(`${dir}: no dist/`); continue; }
  for (const file of jsFiles(path.join(dir, 'dist'))) {
    for (const [, specifier] of fs.readFileSync(file, 'utf8').matchAll(/\b(?:require|import)\(\s*["']([^"']+)["']\s*\)/g)) {
      if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
      requires++;
      try { require.resolve(specifier, { paths: [path.resolve(path.dirname(file))] }); } catch { problems.push(`${file}: '${specifier}' resolves to nothing`); }
    }
  }
}

const thirdParty = installed.filter((at) => !at.startsWith('node_modules/@idsync/'));
const top = thirdParty.filter((at) => at.split('node_modules/').length === 2).map((at) => at.slice('node_modules/'.length));
console.log(`workspaces (${linked.length}): ${sorted(linked).join(' ')}`);
console.log(`packages (${thirdParty.length} installed, ${top.length} at the top): ${top.join(' ')}`);
const direct = sorted(new Set([...workspaces.values()].flatMap(({ manifest }) => Object.keys(manifest.dependencies ?? {}).filter((d) => !d.startsWith('@idsync/')))));
console.log(`declared by those workspaces (${direct.length}): ${direct.join(' ')}`);
console.log(`package imports in dist/ checked: ${requires}`);
if (problems.length > 0) { console.error(problems.map((p) => `FAIL ${p}`).join('\n')); process.exit(1); }
JS

# The service starts as far as its configuration: no module missing on the way (the CLI: a command that reads it).
ARGS=()
[ "$SERVICE" = cli ] && ARGS=(status)
echo "[check-image-deps] node services/$SERVICE/dist/main.js ${ARGS[*]:-} (no configuration: it must stop for that, not for a module)" >&2
set +e
OUTPUT="$(cd "$WORK" && NODE_ENV=production IDSYNC_CONFIG="$WORK/no-such-config.yaml" timeout 60 node "services/$SERVICE/dist/main.js" "${ARGS[@]}" 2>&1 < /dev/null)"
STATUS=$?
set -e
printf '%s\n' "$OUTPUT" | tail -n 5 | cut -c1-300
if printf '%s' "$OUTPUT" | grep -qE "Cannot find module|MODULE_NOT_FOUND|ERR_MODULE_NOT_FOUND"; then echo "FAIL services/$SERVICE/dist/main.js: a module is missing" >&2; exit 1; fi
if [ "$STATUS" -eq 0 ] || [ "$STATUS" -eq 124 ]; then echo "FAIL services/$SERVICE/dist/main.js: exit $STATUS without a configuration" >&2; exit 1; fi
if ! printf '%s' "$OUTPUT" | grep -q "no-such-config.yaml"; then echo "FAIL services/$SERVICE/dist/main.js: stopped (exit $STATUS) but not for the missing configuration" >&2; exit 1; fi
echo "[check-image-deps] main.js stopped (exit $STATUS) for the missing configuration, as expected" >&2

if [ -n "$TOOLBOX" ]; then
  (cd "$WORK" && sh services/cli/bin/idsync --help > /dev/null 2>&1) || { echo "FAIL idsync --help in the image's layout" >&2; exit 1; }
  echo "[check-image-deps] idsync --help works" >&2
fi
if [ -n "$TOOLBOX" ] && [ "$TOOLBOX" != "$SERVICE" ]; then echo "[check-image-deps] OK: services/$SERVICE with services/$TOOLBOX" >&2; else echo "[check-image-deps] OK: services/$SERVICE" >&2; fi
