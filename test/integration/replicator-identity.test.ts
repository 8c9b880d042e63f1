/**
 * The replicator knows which deployments it talks to: it never replicates a deployment onto
 * itself (unless every namespace is renamed apart), and a checkpoint only resumes the job that
 * wrote it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { CheckpointError, InvalidConfigError } from '../../src/errors.js';
import { Replicator } from '../../src/replicator.js';
import { type ReplicatorOptions } from '../../src/replicator-options.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { recordingLogger } from '../support/recording-logger.js';
import { withTimeout } from '../support/timeout-signal.js';

describe('Replicator and deployment identity', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  async function seeded(prefix: string, count = 20): Promise<string> {
    const db = uniqueDbName(prefix);
    await d.source
      .db(db)
      .collection<{ _id: number; v: number }>('items')
      .insertMany(Array.from({ length: count }, (_, i) => ({ _id: i, v: i })));
    return db;
  }

  async function runFull(
    options: Partial<ReplicatorOptions> & {
      checkpoint: NonNullable<ReplicatorOptions['checkpoint']>;
    }
  ) {
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'full',
      ...options
    });
    await replicator.start();
    await withTimeout(replicator.done, 30_000, 'the copy to finish');
    return replicator;
  }

  it('refuses to replicate a deployment onto itself, even with onExistingTarget "drop"', async () => {
    const db = await seeded('self');
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.sourceUri,
      mode: 'full',
      filter: { include: [`${db}.*`] },
      full: { onExistingTarget: 'drop' },
      checkpoint: { name: db, store: new MemoryCheckpointStore() }
    });
    await assert.rejects(replicator.start(), (error: unknown) => {
      assert.ok(error instanceof InvalidConfigError, String(error));
      assert.equal(error.field, 'target');
      assert.match(error.message, /same deployment.*onto itself.*Nothing was written/s);
      return true;
    });
    assert.equal(replicator.state, 'failed');
    assert.equal(await d.source.db(db).collection('items').countDocuments(), 20, 'nothing lost');
  });

  it('refuses a rename onto a namespace the filter also reads', async () => {
    const db = await seeded('self_into');
    const other = await seeded('self_other', 3);
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.sourceUri,
      mode: 'full',
      filter: { include: [`${db}.*`, `${other}.*`], rename: { [`${db}.*`]: `${other}.*` } },
      full: { onExistingTarget: 'drop' },
      checkpoint: { name: db, store: new MemoryCheckpointStore() }
    });
    await assert.rejects(replicator.start(), /which it also reads/);
    assert.equal(await d.source.db(other).collection('items').countDocuments(), 3);
  });

  it('copies within one deployment when every namespace is renamed apart', async () => {
    const db = await seeded('self_renamed');
    const copy = `${db}_copy`;
    await runFull({
      target: d.sourceUri,
      filter: { include: [`${db}.*`], rename: { [`${db}.*`]: `${copy}.*` } },
      checkpoint: { name: db, store: new MemoryCheckpointStore() }
    });
    assert.equal(await d.source.db(copy).collection('items').countDocuments(), 20);
    assert.equal(await d.source.db(db).collection('items').countDocuments(), 20);
  });

  it('refuses a checkpoint written with another filter, saying how to start over', async () => {
    const db = await seeded('bound_filter');
    const store = new MemoryCheckpointStore();
    await runFull({ filter: { include: [`${db}.items`] }, checkpoint: { name: db, store } });
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'full',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store }
    });
    await assert.rejects(replicator.start(), (error: unknown) => {
      assert.ok(error instanceof CheckpointError, String(error));
      assert.match(error.message, /another filter.*checkpoint reset/s);
      return true;
    });
  });

  it('refuses a checkpoint written for another source deployment', async () => {
    const db = await seeded('bound_source');
    const store = new MemoryCheckpointStore();
    const checkpoint = { name: db, store };
    await runFull({ filter: { include: [`${db}.*`] }, checkpoint });
    // The same job name pointed at another deployment as its source.
    const replicator = new Replicator({
      source: d.targetUri,
      target: d.sourceUri,
      mode: 'full',
      filter: { include: [`${db}.*`] },
      full: { onExistingTarget: 'drop' },
      checkpoint
    });
    await assert.rejects(replicator.start(), (error: unknown) => {
      assert.ok(error instanceof CheckpointError, String(error));
      assert.match(error.message, /another source deployment/);
      return true;
    });
    assert.equal(await d.source.db(db).collection('items').countDocuments(), 20, 'nothing lost');
  });

  it('says plainly that a finished full copy has nothing left to do', async () => {
    const db = await seeded('finished');
    const store = new MemoryCheckpointStore();
    const checkpoint = { name: db, store };
    await runFull({ filter: { include: [`${db}.*`] }, checkpoint });
    await d.source.db(db).collection<{ _id: number }>('items').insertOne({ _id: 999 });
    const logger = recordingLogger();
    await runFull({ filter: { include: [`${db}.*`] }, checkpoint, logger });
    assert.ok(
      logger.warnings.some(w => /finished on .*nothing to do.*checkpoint reset/.test(w.message)),
      JSON.stringify(logger.warnings)
    );
    assert.equal(
      await d.target.db(db).collection('items').countDocuments(),
      20,
      'not copied again'
    );
  });
});
