import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';

import { MongoClient } from 'mongodb';

import { withTimeout } from '../support/timeout-signal.js';

/** Starts the CLI as the README shows it and resolves with its first stdout line. */
async function startCli(args: string[]) {
  // Its own process group, so SIGTERM reaches the server process and not only npm (as a shell's
  // job control or a service manager would send it).
  const child = spawn('npm', ['run', 'test-server', '--', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true
  });
  const lines = createInterface({ input: child.stdout });
  const [firstLine] = (await withTimeout(
    once(lines, 'line'),
    30_000,
    'the test server CLI to print its URI'
  )) as [string];
  lines.close();
  return { child, firstLine };
}

describe('test server command line', () => {
  it('prints the connection string first, serves, and exits 0 on SIGTERM', async () => {
    const { child, firstLine } = await startCli([
      '--port',
      '0',
      '--version',
      '6.0',
      '--repl-set',
      'rsx',
      '--oplog-size-mb',
      '8'
    ]);
    try {
      assert.match(firstLine, /^mongodb:\/\/127\.0\.0\.1:\d+\/\?replicaSet=rsx$/);
      const client = new MongoClient(firstLine, { serverSelectionTimeoutMS: 10_000 });
      try {
        const hello = await client.db('admin').command({ hello: 1 });
        assert.equal(hello.setName, 'rsx');
        assert.equal(hello.maxWireVersion, 17);
        const [oplog] = await client
          .db('local')
          .listCollections({ name: 'oplog.rs' }, { nameOnly: false })
          .toArray();
        assert.equal(oplog!.options!.size, 8 * 1024 * 1024);
      } finally {
        await client.close();
      }
    } finally {
      const exited = once(child, 'exit');
      process.kill(-child.pid!, 'SIGTERM');
      const [code, signal] = await exited;
      assert.ok(
        code === 0 || signal === 'SIGTERM',
        `exit code ${String(code)} signal ${String(signal)}`
      );
    }
  });

  it('refuses an unknown version with a clear message', async () => {
    const child = spawn('npm', ['run', 'test-server', '--', '--version', '3.6'], {
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stderr = '';
    child.stderr.on('data', chunk => (stderr += String(chunk)));
    const [code] = await once(child, 'exit');
    assert.notEqual(code, 0);
    assert.match(
      stderr,
      /Unsupported test server version "3\.6"; use one of 4\.4, 5\.0, 6\.0, 7\.0/
    );
  });
});
