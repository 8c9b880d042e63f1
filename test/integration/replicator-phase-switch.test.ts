/**
 * A failure at the switch from the copy to the catch-up (mode `all`) ends the replicator: `done`
 * rejects with the typed error within seconds, and nothing is left running.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { type Checkpoint } from '../../src/checkpoint/checkpoint.js';
import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { CheckpointError, ReplicationError, TargetWriteError } from '../../src/errors.js';
import { Replicator } from '../../src/replicator.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { withTimeout } from '../support/timeout-signal.js';

/** A memory store whose saves fail once the replicator enters catch-up. */
class FailingAtCatchUp extends MemoryCheckpointStore {
  override async save(checkpoint: Checkpoint): Promise<void> {
    if (checkpoint.phase === 'catchup') throw new Error('the store is read-only now');
    await super.save(checkpoint);
  }
}

describe('Replicator at the phase switch', () => {
  let deployments: Deployments;
  let spoolDir: string;
  before(async () => {
    deployments = await startDeployments();
    spoolDir = await mkdtemp(join(tmpdir(), 'mr-phase-switch-'));
  });
  after(async () => {
    await deployments.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  async function seeded(prefix: string): Promise<string> {
    const db = uniqueDbName(prefix);
    await deployments.source
      .db(db)
      .collection<{ _id: number }>('items')
      .insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i })));
    return db;
  }

  function replicatorFor(db: string, store: MemoryCheckpointStore): Replicator {
    return new Replicator({
      source: deployments.sourceUri,
      target: deployments.targetUri,
      mode: 'all',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store },
      full: { spoolDir },
      applier: { retry: { maxRetryTimeMs: 0 } }
    });
  }

  it('rejects done with a CheckpointError when the catch-up cannot be recorded', async () => {
    const db = await seeded('switch_store');
    const replicator = replicatorFor(db, new FailingAtCatchUp());
    await replicator.start();
    await assert.rejects(
      withTimeout(replicator.done, 10_000, 'done to reject'),
      (error: unknown) => {
        assert.ok(error instanceof CheckpointError, String(error));
        assert.match(error.message, /Saving checkpoint/);
        return true;
      }
    );
    assert.equal(replicator.state, 'failed');
  });

  it('rejects done with the applier error when the first catch-up batch fails', async () => {
    const db = await seeded('switch_apply');
    // The copy only inserts; the catch-up's first update meets a non-transient failure.
    await deployments.target.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: { failCommands: ['update'], errorCode: 2 }
    });
    try {
      const replicator = replicatorFor(db, new MemoryCheckpointStore());
      await replicator.start();
      // After start, so it is spooled and applied by the catch-up.
      await deployments.source
        .db(db)
        .collection<{ _id: number; v?: number }>('items')
        .updateOne({ _id: 1 }, { $set: { v: 1 } });
      await assert.rejects(
        withTimeout(replicator.done, 10_000, 'done to reject'),
        (error: unknown) => {
          assert.ok(ReplicationError.is(error), String(error));
          assert.ok(error instanceof TargetWriteError, `${error.name}: ${error.message}`);
          return true;
        }
      );
      assert.equal(replicator.state, 'failed');
    } finally {
      await deployments.target
        .db('admin')
        .command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
  });
});
