/**
 * The examples run as a user runs them (a child process with tsx), against their own test
 * servers, and end with exit code 0 and what they promise to print.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

async function example(file: string, env: Record<string, string> = {}) {
  // The examples start their own servers unless these point at real deployments.
  const { MONGO_REPLICATE_SOURCE_URI: _s, MONGO_REPLICATE_TARGET_URI: _t, ...rest } = process.env;
  return run(process.execPath, ['--import', 'tsx', `examples/${file}`], {
    cwd: root,
    env: { ...rest, ...env },
    timeout: 90_000
  });
}

describe('examples', () => {
  it('migrate.ts copies with filters and renames, fences and verifies', async () => {
    const { stdout } = await example('migrate.ts');
    assert.match(stdout, /shop\.products → shop_v2\.products: equal \(500 documents\)/);
    assert.doesNotMatch(stdout, /tmp_import/);
    assert.match(stdout, /migration verified/);
  });

  it('http-service.ts serves the replication status next to its own routes', async () => {
    const { stdout } = await example('http-service.ts', { PORT: '0', EXAMPLE_RUN_MS: '30000' });
    assert.match(stdout, /status: phase incr, [1-9]\d* writes applied/);
  });

  it('manual-stages.ts wires fetcher, batcher and pool by hand', async () => {
    const { stdout } = await example('manual-stages.ts');
    assert.match(stdout, /50 items have qty 9 on the target/);
  });

  it('demo.ts (npm run demo) ends with an equal verification', async () => {
    const { stdout } = await example('demo.ts');
    assert.match(stdout, /verification EQUAL/);
  });
});
