#!/usr/bin/env bash
# What a user of the published package gets, checked on the real tarball: `npm pack` (whose
# prepack builds dist/ and the type rollup from a clean clone), then the tarball installed into
# a scratch project, used as ESM (`import`), as CommonJS (`require`, Node >= 20.19's require of
# ES modules), from TypeScript under `module: nodenext` (strict, skipLibCheck false, ESM and CJS
# files), and as the `mongo-replicate` binary (`--version`, `--help`).
#
# Needs no network besides the npm registry: the package's runtime dependencies, TypeScript and
# @types/node are installed at the versions this checkout already has (from npm's cache when
# they are there).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

version=$(node -p "require('./package.json').version")
ts_version=$(node -p "require('./node_modules/typescript/package.json').version")
node_types_version=$(node -p "require('./node_modules/@types/node/package.json').version")

echo "== npm pack (prepack: clean build and type rollup)"
npm pack --pack-destination "$work" --loglevel=warn >/dev/null
tarball="$work/mongo-replicate-$version.tgz"
test -f "$tarball" || { echo "npm pack wrote no $tarball" >&2; exit 1; }

echo "== what the tarball ships"
contents=$(tar -tzf "$tarball")
for required in package/package.json package/README.md package/dist/index.js \
  package/dist/mongo-replicate.d.ts package/dist/cli/main.js; do
  grep -qx "$required" <<<"$contents" || { echo "the tarball lacks $required" >&2; exit 1; }
done
# Only the rollup carries types (package.json "types"); per-file declarations, tests and tooling
# stay out.
unexpected=$(grep -vE '^package/(package\.json|README\.md|dist/.*\.js(\.map)?|dist/mongo-replicate\.d\.ts|src/.*\.ts)$' <<<"$contents" || true)
if [ -n "$unexpected" ]; then
  echo "the tarball ships files users do not need:" >&2
  echo "$unexpected" >&2
  exit 1
fi
echo "$(wc -l <<<"$contents") files, $(du -k "$tarball" | cut -f1) KiB packed"

echo "== install into a scratch project"
app="$work/app"
mkdir "$app"
cat >"$app/package.json" <<'JSON'
{ "name": "scratch-app", "version": "1.0.0", "private": true }
JSON
(cd "$app" && npm install --no-audit --no-fund --prefer-offline --loglevel=warn \
  "$tarball" "typescript@$ts_version" "@types/node@$node_types_version" >/dev/null)

echo "== ESM import"
cat >"$app/esm.mjs" <<'JS'
import assert from 'node:assert/strict';
import { Replicator, ReplicationErrorCode, InvalidConfigError } from 'mongo-replicate';

// The first line of a migration script: no checkpoint name, no connection until start().
const replicator = new Replicator({
  source: 'mongodb://127.0.0.1:1/',
  target: 'mongodb://127.0.0.1:2/',
  mode: 'full'
});
assert.equal(replicator.options.checkpoint.name, 'default');
assert.equal(ReplicationErrorCode.InvalidConfig, 'MR_INVALID_CONFIG');
assert.throws(() => new Replicator({ source: 'x', target: 'y' }), InvalidConfigError);
console.log('ESM import: ok');
JS
(cd "$app" && node esm.mjs)

echo "== CommonJS require"
cat >"$app/cjs.cjs" <<'JS'
const assert = require('node:assert/strict');
const { Replicator, ReplicationError, InvalidConfigError } = require('mongo-replicate');

assert.equal(process.features.require_module, true, 'this Node cannot require() ES modules');
assert.equal(typeof Replicator, 'function');
assert.equal(ReplicationError.is(new InvalidConfigError('mode', 'bad')), true);
console.log('CommonJS require: ok');
JS
(cd "$app" && node cjs.cjs)

echo "== TypeScript (module nodenext, strict, skipLibCheck false)"
cat >"$app/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "strict": true,
    "skipLibCheck": false,
    "noEmit": true,
    "types": ["node"]
  },
  "files": ["esm.mts", "cjs.cts"]
}
JSON
cat >"$app/esm.mts" <<'TS'
import {
  type AppliedBatchEvent,
  type InvalidConfigError,
  type ReplicatorOptions,
  Replicator
} from 'mongo-replicate';

const options: ReplicatorOptions = { source: 'mongodb://a/', target: 'mongodb://b/', mode: 'full' };
const replicator = new Replicator(options);
replicator.on('batch', (event: AppliedBatchEvent) => event.ops.toFixed());
const name: string = replicator.options.checkpoint.name;
// The types are real, not `any`: a wrong mode, event or payload field does not compile.
// @ts-expect-error an unknown mode
new Replicator({ source: 'mongodb://a/', target: 'mongodb://b/', mode: 'mirror' });
// @ts-expect-error an unknown event
replicator.on('nope', () => undefined);
// @ts-expect-error an unknown payload field
replicator.on('lag', event => event.nope);
export const checked: [string, InvalidConfigError | undefined] = [name, undefined];
TS
cat >"$app/cjs.cts" <<'TS'
import { Replicator, type ReplicatorEvents } from 'mongo-replicate';

type Lag = Parameters<ReplicatorEvents['lag']>[0];
const replicator = new Replicator({ source: 'mongodb://a/', target: 'mongodb://b/' });
replicator.on('lag', (event: Lag) => event.seconds.toFixed());
export = replicator;
TS
(cd "$app" && npx --no-install tsc -p tsconfig.json)
echo "TypeScript: ok"

echo "== the mongo-replicate binary"
printed=$(cd "$app" && npx --no-install mongo-replicate --version)
[ "$printed" = "$version" ] || { echo "--version printed '$printed', expected $version" >&2; exit 1; }
help=$(cd "$app" && npx --no-install mongo-replicate --help)
grep -q 'run' <<<"$help" || { echo "--help does not list the run command" >&2; exit 1; }
echo "mongo-replicate --version: $printed; --help: ok"

echo "== package check passed"
