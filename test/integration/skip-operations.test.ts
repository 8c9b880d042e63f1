/**
 * `filter.skip`: the operations it names never reach the target, with both fetch methods, inside
 * transactions and during a catch-up; everything else is applied; what was skipped is counted in
 * `batch` events, the status and the metrics. The expected target is written out by hand from
 * what the test did on the source (its history minus the skipped operations), never read back
 * from the source.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { type Document } from 'mongodb';

import { type UniqueIndexEvent } from '../../src/apply/unique-guard.js';
import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { type SkippableOperation } from '../../src/namespace/operation-filter.js';
import { ReplicatorMonitor } from '../../src/observability/replicator-monitor.js';
import { type SkippedOperations } from '../../src/pipeline/pipeline-items.js';
import { Replicator } from '../../src/replicator.js';
import { type FetchMethod, type ReplicatorOptions } from '../../src/replicator-options.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { waitAppliedMarker } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';
import { parsePrometheusText, sampleValue } from '../unit/observability/prometheus-text.js';

type Item = { _id: number; v?: string; n?: number };

/** A collection's documents in `_id` order, without the test's marker document. */
async function docs(client: Deployments['source'], db: string, coll: string): Promise<Document[]> {
  const all = await client
    .db(db)
    .collection(coll)
    .find({}, { sort: { _id: 1 } })
    .toArray();
  return all.filter(doc => (doc._id as unknown) !== 'marker');
}

async function collections(client: Deployments['source'], db: string): Promise<string[]> {
  const list = await client.db(db).listCollections({}, { nameOnly: true }).toArray();
  return list.map(c => c.name).sort();
}

for (const fetchMethod of ['oplog', 'changeStream'] as FetchMethod[]) {
  describe(`filter.skip (${fetchMethod})`, () => {
    let d: Deployments;
    let spoolDir: string;
    before(async () => {
      d = await startDeployments();
      spoolDir = await mkdtemp(join(tmpdir(), 'mr-skip-'));
    });
    after(async () => {
      await d.close();
      await rm(spoolDir, { recursive: true, force: true });
    });

    function replicatorFor(
      db: string,
      skip: SkippableOperation[],
      extra: Partial<ReplicatorOptions> = {}
    ) {
      const replicator = new Replicator({
        source: d.source,
        target: d.target,
        fetchMethod,
        filter: { include: [`${db}.*`], skip },
        checkpoint: { name: db, store: new MemoryCheckpointStore() },
        full: { spoolDir },
        ...extra
      });
      const skipped: SkippedOperations[] = [];
      replicator.on('batch', event => {
        if (event.skippedOperations) skipped.push(event.skippedOperations);
      });
      return { replicator, skipped };
    }

    const caughtUp = (replicator: Replicator, db: string) =>
      withTimeout(
        waitAppliedMarker(replicator, d.source, db, 'items'),
        30_000,
        'the replicator to apply the marker'
      );

    const sum = (events: SkippedOperations[], kind: keyof SkippedOperations) =>
      events.reduce((total, e) => total + e[kind], 0);

    it("with skip ['delete', 'drop'] keeps deleted documents and dropped collections, and applies the rest", async () => {
      const db = uniqueDbName('skip_del');
      const { replicator, skipped } = replicatorFor(db, ['delete', 'drop', 'dropDatabase']);
      const monitor = new ReplicatorMonitor(replicator);
      await replicator.start();
      try {
        const items = d.source.db(db).collection<Item>('items');
        await items.insertMany([1, 2, 3, 4, 5].map(n => ({ _id: n, v: `v${n}` })));
        await items.updateOne({ _id: 1 }, { $set: { v: 'one' } });
        await items.deleteOne({ _id: 2 });
        await items.deleteMany({ _id: { $in: [3] } });
        await items.replaceOne({ _id: 5 }, { v: 'five' });
        // A transaction: its delete is dropped, its insert and update applied.
        const session = d.source.startSession();
        try {
          await session.withTransaction(async () => {
            await items.insertOne({ _id: 6, v: 'v6' }, { session });
            await items.deleteOne({ _id: 4 }, { session });
            await items.updateOne({ _id: 1 }, { $set: { n: 1 } }, { session });
          });
        } finally {
          await session.endSession();
        }
        const gone = d.source.db(db).collection<Item>('gone');
        await gone.insertOne({ _id: 1, v: 'kept' });
        await gone.drop();
        await caughtUp(replicator, db);

        // The source's history minus the deletes and the drop.
        assert.deepEqual(await docs(d.target, db, 'items'), [
          { _id: 1, v: 'one', n: 1 },
          { _id: 2, v: 'v2' },
          { _id: 3, v: 'v3' },
          { _id: 4, v: 'v4' },
          { _id: 5, v: 'five' },
          { _id: 6, v: 'v6' }
        ]);
        assert.deepEqual(await docs(d.target, db, 'gone'), [{ _id: 1, v: 'kept' }]);
        assert.deepEqual(await collections(d.target, db), ['gone', 'items']);
        assert.deepEqual(await collections(d.source, db), ['items']);

        assert.equal(sum(skipped, 'deletes'), 3);
        assert.equal(sum(skipped, 'commands'), 1);
        assert.equal(sum(skipped, 'inserts') + sum(skipped, 'updates'), 0);
        const status = monitor.status();
        assert.deepEqual(status.applied.skippedOperations, {
          inserts: 0,
          updates: 0,
          deletes: 3,
          commands: 1
        });
        const metrics = parsePrometheusText(await monitor.metrics());
        const skippedTotal = (kind: string) =>
          sampleValue(metrics, 'mongo_replicate_skipped_operations_total', { kind });
        assert.equal(skippedTotal('delete'), 3);
        assert.equal(skippedTotal('command'), 1);
        assert.equal(skippedTotal('insert'), 0);
      } finally {
        await replicator.stop();
        monitor.close();
      }
    });

    it('re-creating a skipped drop reuses the kept collection; a rename onto it merges into it', async () => {
      const db = uniqueDbName('skip_ren');
      const { replicator } = replicatorFor(db, ['drop']);
      await replicator.start();
      try {
        const source = d.source.db(db);
        await source.collection<Item>('a').insertMany([{ _id: 1 }, { _id: 2, v: 'a2' }]);
        await source.collection<Item>('b').insertMany([{ _id: 2, v: 'b2' }, { _id: 10 }]);
        await source.collection('b').drop();
        // Takes the name of the dropped (and on the target, kept) collection.
        await d.source.db('admin').command({ renameCollection: `${db}.a`, to: `${db}.b` });
        await source.collection<Item>('b').insertOne({ _id: 3 });
        // Replaces it (dropTarget): on the target, merged into the kept one as well.
        await source.collection<Item>('c').insertOne({ _id: 20 });
        await d.source
          .db('admin')
          .command({ renameCollection: `${db}.c`, to: `${db}.b`, dropTarget: true });
        // Dropped and re-created by an insert: the old documents stay beside the new one.
        await source.collection<Item>('d').insertOne({ _id: 1, v: 'old' });
        await source.collection('d').drop();
        await source.collection<Item>('d').insertOne({ _id: 2, v: 'new' });
        await caughtUp(replicator, db);

        assert.deepEqual(await collections(d.source, db), ['b', 'd', 'items']);
        assert.deepEqual(await collections(d.target, db), ['b', 'd', 'items']);
        // Old b (10; its 2 replaced by a's 2, the renamed collection's version), a (1, 2),
        // the insert (3), c (20).
        assert.deepEqual(await docs(d.target, db, 'b'), [
          { _id: 1 },
          { _id: 2, v: 'a2' },
          { _id: 3 },
          { _id: 10 },
          { _id: 20 }
        ]);
        assert.deepEqual(await docs(d.target, db, 'd'), [
          { _id: 1, v: 'old' },
          { _id: 2, v: 'new' }
        ]);
      } finally {
        await replicator.stop();
      }
    });

    it('applies updates and deletes but no insert with skip insert, and no DDL with skip ddl', async () => {
      const db = uniqueDbName('skip_ins');
      const { replicator, skipped } = replicatorFor(db, ['insert', 'ddl']);
      // Present on the target before: updates and deletes of it are applied.
      await d.target
        .db(db)
        .collection<Item>('items')
        .insertMany([{ _id: 1 }, { _id: 2 }]);
      await d.source
        .db(db)
        .collection<Item>('items')
        .insertMany([{ _id: 1 }, { _id: 2 }]);
      await replicator.start();
      try {
        const items = d.source.db(db).collection<Item>('items');
        await items.updateOne({ _id: 1 }, { $set: { v: 'one' } });
        await items.deleteOne({ _id: 2 });
        await items.insertOne({ _id: 3 });
        await items.createIndex({ v: 1 });
        await d.source.db(db).collection<Item>('other').insertOne({ _id: 1 });
        await caughtUp(replicator, db);
        assert.deepEqual(await docs(d.target, db, 'items'), [{ _id: 1, v: 'one' }]);
        const indexes = await d.target.db(db).collection('items').listIndexes().toArray();
        assert.deepEqual(
          indexes.map(index => index.name),
          ['_id_']
        );
        // 3, other's 1, and the marker the test waits for (an upsert: an insert).
        assert.equal(sum(skipped, 'inserts'), 3);
        assert.ok(sum(skipped, 'commands') >= 1, 'the index build (and any create) was skipped');
      } finally {
        await replicator.stop();
      }
    });

    it('leaves a unique index non-unique, by default, when a kept document collides', async () => {
      const db = uniqueDbName('skip_unique');
      const { replicator } = replicatorFor(db, ['delete']);
      const events: UniqueIndexEvent[] = [];
      replicator.on('uniqueIndex', event => events.push(event));
      assert.equal(replicator.options.applier.uniqueConflictPolicy, 'ignore');
      const users = d.source.db(db).collection<{ _id: string; email: string }>('users');
      await users.createIndex({ email: 1 }, { unique: true });
      await d.target.db(db).collection('users').createIndex({ email: 1 }, { unique: true });
      await replicator.start();
      try {
        await users.insertOne({ _id: 'a', email: 'x@example.com' });
        await users.deleteOne({ _id: 'a' });
        await users.insertOne({ _id: 'b', email: 'x@example.com' });
        await caughtUp(replicator, db);
        assert.deepEqual(
          (await docs(d.target, db, 'users')).map(u => u._id as string),
          ['a', 'b']
        );
        assert.ok(
          events.some(e => e.action === 'leftRelaxed' && e.index === 'email_1'),
          'the index is reported left non-unique'
        );
        assert.equal(replicator.state, 'running');
      } finally {
        await replicator.stop();
      }
    });

    it('copies what exists in mode all, then skips deletes in the catch-up and after it', async () => {
      const db = uniqueDbName('skip_all');
      const items = d.source.db(db).collection<Item>('items');
      await items.insertMany([1, 2, 3].map(n => ({ _id: n })));
      await items.deleteOne({ _id: 3 }); // before the copy: nothing to keep
      const { replicator, skipped } = replicatorFor(db, ['delete'], { mode: 'all' });
      // Paused once the documents are copied, the copy cannot end (its index builds wait), so
      // what the source does meanwhile is applied in the catch-up.
      const copied = new Promise<void>(resolve => {
        replicator.on('progress', event => {
          if (event.namespace !== `${db}.items` || event.documents < 2) return;
          void replicator.pause().then(resolve);
        });
      });
      const phases: string[] = [];
      replicator.on('phase', event => phases.push(event.phase));
      await replicator.start();
      try {
        await withTimeout(copied, 30_000, 'the copy of the documents');
        await items.deleteOne({ _id: 1 });
        await items.insertOne({ _id: 4 });
        replicator.resume();
        await withTimeout(
          replicator.waitFor('phase', { filter: e => e.phase === 'incr' }),
          30_000,
          'the end of the catch-up'
        );
        await items.deleteOne({ _id: 2 });
        await caughtUp(replicator, db);
        assert.deepEqual(phases, ['full', 'catchup', 'incr']);
        assert.deepEqual(await docs(d.target, db, 'items'), [{ _id: 1 }, { _id: 2 }, { _id: 4 }]);
        assert.equal(sum(skipped, 'deletes'), 2);
      } finally {
        await replicator.stop();
      }
    });
  });
}
