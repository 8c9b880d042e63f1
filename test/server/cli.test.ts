import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';

import { MongoClient } from 'mongodb';

import { withTimeout } from '../support/timeout-signal.js';

/**
 * Starts the CLI as the README shows it (or, `direct`, without npm in between) and resolves with
 * its first stdout line.
 */
async function startCli(args: string[], direct = false) {
  // Its own process group, so SIGTERM reaches the server process and not only npm (as a shell's
  // job control or a service manager would send it).
  const [command, argv] = direct
    ? [process.execPath, ['--import', 'tsx', 'test/server/cli.ts', ...args]]
    : ['npm', ['run', 'test-server', '--', ...args]];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
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

  it('restarts in place on SIGHUP, keeping its data', async () => {
    const { child, firstLine } = await startCli(['--port', '0'], true);
    const client = new MongoClient(firstLine, { serverSelectionTimeoutMS: 10_000 });
    try {
      await client.db('cli').collection('kept').insertOne({ a: 1 });
      const before = await client.db('admin').command({ hello: 1 });
      child.kill('SIGHUP');
      const after = await withTimeout(
        (async () => {
          for (;;) {
            // A command in flight while the server restarts fails with a network error: try again.
            const hello = await client
              .db('admin')
              .command({ hello: 1 })
              .catch(() => undefined);
            if (
              hello &&
              String(hello.topologyVersion.processId) !== String(before.topologyVersion.processId)
            ) {
              return hello;
            }
            await new Promise(resolve => setImmediate(resolve));
          }
        })(),
        30_000,
        'the restarted server'
      );
      assert.ok(after.electionId.toHexString() > before.electionId.toHexString());
      assert.equal(await client.db('cli').collection('kept').countDocuments(), 1);
    } finally {
      await client.close();
      const exited = once(child, 'exit');
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
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
