import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Int32, Timestamp } from 'mongodb';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import {
  CheckpointError,
  InvalidConfigError,
  OplogStartMissingError,
  ReplicationError
} from '../../src/errors.js';
import { type StateChangeEvent } from '../../src/events.js';
import { Replicator } from '../../src/replicator.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { waitAppliedMarker, waitCaughtUp } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';

/** The target's `db.items`, in `_id` order. */
function itemsOn(deployments: Deployments, db: string) {
  return deployments.target
    .db(db)
    .collection('items')
    .find({}, { sort: { _id: 1 } })
    .toArray();
}

describe('Replicator (mode incr)', () => {
  let deployments: Deployments;
  before(async () => {
    deployments = await startDeployments();
  });
  after(async () => {
    await deployments.close();
  });

  /** A replicator of database `db` (same name for its checkpoint) into the same database. */
  const replicatorFor = (db: string, store: MemoryCheckpointStore, intervalMs: number) =>
    new Replicator({
      source: deployments.source,
      target: deployments.target,
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store, intervalMs }
    });

  it('rejects bad options before connecting, without echoing connection strings', () => {
    const store = new MemoryCheckpointStore();
    assert.throws(
      () =>
        new Replicator({
          source: 'mongodb://alice:s3cret@nowhere/',
          target: 'nope://x',
          checkpoint: { name: 'x', store }
        }),
      (error: unknown) =>
        error instanceof InvalidConfigError &&
        error.field === 'target' &&
        !error.message.includes('nope')
    );
    assert.throws(
      () =>
        new Replicator({
          source: deployments.sourceUri,
          target: deployments.targetUri,
          checkpoint: { name: '' }
        }),
      (error: unknown) => error instanceof InvalidConfigError && error.field === 'checkpoint.name'
    );
    assert.throws(
      () =>
        new Replicator({
          source: deployments.sourceUri,
          target: deployments.targetUri,
          mode: 'mirror' as never,
          checkpoint: { name: 'x', store }
        }),
      (error: unknown) => error instanceof InvalidConfigError && error.field === 'mode'
    );
    assert.throws(
      () =>
        new Replicator({
          source: deployments.sourceUri,
          target: deployments.targetUri,
          mode: 'all',
          full: { onExistingTarget: 'overwrite' as never },
          checkpoint: { name: 'x', store }
        }),
      (error: unknown) =>
        error instanceof InvalidConfigError && error.field === 'full.onExistingTarget'
    );
    // The copy's stages are validated up front too, not when the copy reaches them.
    assert.throws(
      () =>
        new Replicator({
          source: deployments.sourceUri,
          target: deployments.targetUri,
          mode: 'full',
          full: { executor: { readers: 0 } },
          checkpoint: { name: 'x', store }
        }),
      (error: unknown) =>
        error instanceof InvalidConfigError && error.field === 'full.executor.readers'
    );
  });

  it('replicates new writes, stops, and resumes from its checkpoint with what came meanwhile', async () => {
    const db = uniqueDbName('incr');
    const store = new MemoryCheckpointStore();
    const make = () => replicatorFor(db, store, 0);
    const states: string[] = [];
    let replicator = make();
    replicator.on('state', (event: StateChangeEvent) => states.push(event.to));
    await replicator.start();
    const coll = deployments.source.db(db).collection<{ _id: number; n?: Int32 }>('items');
    await coll.insertMany([{ _id: 1 }, { _id: 2 }]);
    await coll.updateOne({ _id: 1 }, { $set: { n: new Int32(5) } });
    await withTimeout(
      waitCaughtUp(replicator, deployments.source),
      30_000,
      'the replicator to catch up'
    );
    await replicator.stop();
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    const saved = await store.load(db);
    assert.ok(saved?.lastApplied, 'a checkpoint was written');
    await coll.deleteOne({ _id: 2 });
    await coll.insertOne({ _id: 3 });
    replicator = make();
    await replicator.start();
    await withTimeout(
      waitCaughtUp(replicator, deployments.source),
      30_000,
      'the replicator to catch up'
    );
    await replicator.stop();
    const target = await itemsOn(deployments, db);
    assert.deepEqual(target, [{ _id: 1, n: 5 }, { _id: 3 }]);
  });

  it('fence() resolves only once every write made before it is on the target', async () => {
    const db = uniqueDbName('fence');
    const replicator = replicatorFor(db, new MemoryCheckpointStore(), 1000);
    await replicator.start();
    try {
      const coll = deployments.source.db(db).collection<{ _id: number }>('items');
      for (let i = 0; i < 20; i++) await coll.insertOne({ _id: i });
      await coll.deleteOne({ _id: 3 });
      const fence = await withTimeout(replicator.fence(), 30_000, 'the fence');
      assert.ok(!replicator.appliedOptime!.lessThan(fence.optime));
      assert.equal(fence.namespace, 'mongo_replicate.fences');
      // No other wait: the fence alone guarantees the writes are there.
      assert.equal(await deployments.target.db(db).collection('items').countDocuments(), 19);
    } finally {
      await replicator.stop();
    }
  });

  it('writes the last checkpoint on stop even when the interval never elapsed', async () => {
    const db = uniqueDbName('final');
    const store = new MemoryCheckpointStore();
    const make = () => replicatorFor(db, store, 3_600_000);
    const first = make();
    await first.start();
    await first.stop();
    const initial = (await store.load(db))!.lastApplied!;
    const second = make();
    await second.start();
    await deployments.source.db(db).collection('items').insertOne({ a: 1 });
    await withTimeout(
      waitCaughtUp(second, deployments.source),
      30_000,
      'the replicator to catch up'
    );
    await second.stop();
    const final = (await store.load(db))!.lastApplied!;
    assert.ok(final.greaterThan(initial), 'the checkpoint moved forward on stop');
  });

  it('fails with OplogStartMissingError when its checkpoint fell off the source oplog', async () => {
    const store = new MemoryCheckpointStore();
    await store.save({
      name: 'ancient',
      version: 1,
      mode: 'incr',
      phase: 'incr',
      lastApplied: new Timestamp({ t: 1, i: 1 }),
      updatedAt: new Date()
    });
    const replicator = new Replicator({
      source: deployments.source,
      target: deployments.target,
      checkpoint: { name: 'ancient', store }
    });
    await assert.rejects(replicator.start(), (error: unknown) => {
      assert.ok(error instanceof OplogStartMissingError);
      assert.ok(ReplicationError.is(error));
      assert.equal(error.code, 'MR_OPLOG_START_MISSING');
      assert.ok(error.behindSeconds > 0);
      return true;
    });
    await assert.rejects(
      replicator.done,
      (error: unknown) => error instanceof OplogStartMissingError
    );
  });

  it('never puts credentials in errors', async () => {
    const replicator = new Replicator({
      source: 'mongodb://alice:s3cret-pass@127.0.0.1:1/?serverSelectionTimeoutMS=200',
      target: deployments.target,
      checkpoint: { name: 'creds', store: new MemoryCheckpointStore() }
    });
    const error = await replicator.start().catch((e: unknown) => e);
    assert.ok(error instanceof ReplicationError);
    assert.ok(!String(error.message).includes('s3cret-pass'));
    assert.ok(
      !JSON.stringify({ message: error.message, stack: error.stack }).includes('s3cret-pass')
    );
  });
});

describe('Replicator (fetchMethod changeStream)', () => {
  let deployments: Deployments;
  before(async () => {
    deployments = await startDeployments();
  });
  after(async () => {
    await deployments.close();
  });

  const replicatorFor = (
    db: string,
    store: MemoryCheckpointStore,
    fetchMethod: 'oplog' | 'changeStream' = 'changeStream'
  ) =>
    new Replicator({
      source: deployments.source,
      target: deployments.target,
      fetchMethod,
      transactions: 'preserve',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store, intervalMs: 0 }
    });

  it('replicates through a change stream, stores its resume token, and resumes after it', async () => {
    const db = uniqueDbName('cs');
    const store = new MemoryCheckpointStore();
    let replicator = replicatorFor(db, store);
    await replicator.start();
    const coll = deployments.source.db(db).collection<{ _id: number; n?: Int32 }>('items');
    await coll.insertMany([{ _id: 1 }, { _id: 2 }]);
    const session = deployments.source.startSession();
    try {
      await session.withTransaction(async () => {
        await coll.updateOne({ _id: 1 }, { $set: { n: new Int32(5) } }, { session });
        await coll.insertOne({ _id: 4 }, { session });
      });
    } finally {
      await session.endSession();
    }
    await withTimeout(
      waitAppliedMarker(replicator, deployments.source, db, 'marker'),
      30_000,
      'the replicator to catch up'
    );
    await replicator.stop();
    const saved = await store.load(db);
    assert.equal(saved?.fetchMethod, 'changeStream');
    assert.equal(typeof saved?.resumeToken?._data, 'string', 'the resume token is stored');
    await coll.deleteOne({ _id: 2 });
    replicator = replicatorFor(db, store);
    await replicator.start();
    await withTimeout(
      waitAppliedMarker(replicator, deployments.source, db, 'marker'),
      30_000,
      'the replicator to catch up again'
    );
    await replicator.stop();
    const target = await itemsOn(deployments, db);
    assert.deepEqual(target, [{ _id: 1, n: 5 }, { _id: 4 }]);
  });

  it('fence() works through a change stream too', async () => {
    const db = uniqueDbName('cs_fence');
    const replicator = replicatorFor(db, new MemoryCheckpointStore());
    await replicator.start();
    try {
      const coll = deployments.source.db(db).collection<{ _id: number }>('items');
      await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
      await withTimeout(replicator.fence({ namespace: `${db}_fence.marks` }), 30_000, 'the fence');
      assert.equal(await deployments.target.db(db).collection('items').countDocuments(), 10);
    } finally {
      await replicator.stop();
    }
  });

  it('refuses to resume a change-stream checkpoint by tailing the oplog, before any write', async () => {
    const db = uniqueDbName('cs_switch');
    const store = new MemoryCheckpointStore();
    const first = replicatorFor(db, store);
    await first.start();
    await first.stop();
    await deployments.source
      .db(db)
      .collection('items')
      .insertOne({ _id: 1 } as never);
    const other = replicatorFor(db, store, 'oplog');
    await assert.rejects(other.start(), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.match(error.message, /fetchMethod "changeStream"/);
      return true;
    });
    assert.equal(await deployments.target.db(db).collection('items').countDocuments(), 0);
  });
});
