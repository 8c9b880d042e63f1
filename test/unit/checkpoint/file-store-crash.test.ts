/**
 * FileCheckpointStore killed (SIGKILL) in the middle of its writes: the checkpoint and the lease
 * it leaves are whole, and every save that had resolved is there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { FileCheckpointStore } from '../../../src/checkpoint/file-checkpoint-store.js';
import { withTimeout } from '../../support/timeout-signal.js';

const CHILD = fileURLToPath(new URL('./file-store-crash-child.ts', import.meta.url));

/** Runs the child until it reported `saves` resolved saves (plus a random few), then kills it. */
async function killMidway(directory: string, saves: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, directory], {
    stdio: ['ignore', 'pipe', 'inherit']
  });
  const extra = Math.floor(Math.random() * 5);
  let confirmed = 0;
  const exited = new Promise<void>(resolve => child.on('close', () => resolve()));
  await withTimeout(
    new Promise<void>(resolve => {
      child.stdout.on('data', (chunk: Buffer) => {
        const lines = chunk.toString().trim().split('\n');
        confirmed = Math.max(confirmed, Number(lines.at(-1)));
        if (confirmed >= saves + extra) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    }),
    60_000,
    'the child to save checkpoints'
  );
  await exited;
  return confirmed;
}

describe('FileCheckpointStore killed mid-write', () => {
  let directory: string;
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'mr-crash-'));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('leaves a whole checkpoint and lease holding at least every resolved save, run after run', async () => {
    for (let run = 0; run < 3; run++) {
      const dir = join(directory, `run-${run}`);
      const confirmed = await killMidway(dir, 20);
      const store = new FileCheckpointStore(dir);
      const checkpoint = await store.load('crash');
      assert.ok(checkpoint, 'a checkpoint is there');
      assert.ok(
        checkpoint.lastApplied!.t >= confirmed,
        `saved ${checkpoint.lastApplied!.t}, confirmed ${confirmed}`
      );
      assert.equal(checkpoint.copy?.length, 200);
      const lease = await store.readLease('crash');
      assert.equal(lease?.owner.id, 'child');
    }
  });
});
