/**
 * prom-client must load only on the first `metrics()` call, never when the library is imported.
 *
 * How it is checked: a fresh Node process (so nothing else has loaded prom-client) imports the
 * library's entry and the observability modules, then looks for prom-client's files in the
 * CommonJS module cache, which is where Node records a CommonJS package (prom-client is one)
 * even when ESM `import`s it. A positive control in the same process, calling `metrics()`, must
 * then find them: if prom-client ever loaded another way (an ESM build), the control fails
 * instead of this test passing for the wrong reason.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const module = (path: string) => JSON.stringify(pathToFileURL(ROOT + path).href);

const CHILD = `
import { createRequire } from 'node:module';
const cache = createRequire(${module('package.json')}).cache;
const loaded = () => Object.keys(cache).some(file => /[\\\\/]node_modules[\\\\/]prom-client[\\\\/]/.test(file));
await import(${module('src/index.ts')});
await import(${module('src/observability/status-server.ts')});
const { ReplicatorMonitor } = await import(${module('src/observability/replicator-monitor.ts')});
const { Replicator } = await import(${module('src/replicator.ts')});
const afterImport = loaded();
const monitor = new ReplicatorMonitor(
  new Replicator({ source: 'mongodb://127.0.0.1:1', target: 'mongodb://127.0.0.1:2', checkpoint: { name: 'lazy' } })
);
monitor.status();
const afterStatus = loaded();
await monitor.metrics();
const afterMetrics = loaded();
monitor.close();
console.log(JSON.stringify({ afterImport, afterStatus, afterMetrics }));
`;

describe('prom-client loading', () => {
  it('waits for the first metrics() call', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', CHILD],
      { cwd: ROOT, timeout: 60_000 }
    );
    assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), {
      afterImport: false,
      afterStatus: false,
      afterMetrics: true
    });
  });
});
