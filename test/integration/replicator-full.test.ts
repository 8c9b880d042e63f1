import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Binary, Decimal128, type Document, Double, Int32, Long, ObjectId } from 'mongodb';

import { loadCheckpoint } from '../../src/checkpoint/copy-state-store.js';
import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { MongoCheckpointStore } from '../../src/checkpoint/mongo-checkpoint-store.js';
import { CheckpointError, TargetExistsError } from '../../src/errors.js';
import { type CopyProgressEvent } from '../../src/full/collection-executor.js';
import { Replicator } from '../../src/replicator.js';
import { type PhaseEvent } from '../../src/replicator-events.js';
import { type ReplicatorOptions } from '../../src/replicator-options.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';

/** Documents with `_id`s of any type (the driver's default types `_id` as ObjectId). */
type AnyDoc = { _id?: number | string | boolean | object | null; [field: string]: unknown };

/** `_id`s of nine BSON types. */
function mixedIds(count: number): object[] {
  const make = [
    (i: number) => new Int32(i),
    (i: number) => new Double(i + 0.5),
    (i: number) => Long.fromNumber(1_000_000 + i),
    (i: number) => Decimal128.fromString(`${2_000_000 + i}.5`),
    (i: number) => new String(`s${i}`),
    (i: number) => ObjectId.createFromTime(1_700_000_000 + i),
    (i: number) => new Date(1_700_000_000_000 + i),
    (i: number) => ({ k: i }),
    (i: number) => new Binary(Buffer.from([i % 256, i >> 8]))
  ];
  return Array.from({ length: count }, (_, i) => {
    const id = make[i % make.length]!(i);
    return id instanceof String ? (id.valueOf() as unknown as object) : id;
  });
}

/** listIndexes without the namespace-dependent parts, sorted by name. */
async function indexes(client: Deployments['source'], db: string, coll: string) {
  const specs = await client.db(db).collection(coll).listIndexes().toArray();
  return specs
    .map(({ ns: _ns, ...spec }: Document) => spec)
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

describe('Replicator (mode full)', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  function replicator(src: string, dst: string, options: Partial<ReplicatorOptions> = {}) {
    const r = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'full',
      filter: { include: [`${src}.*`], rename: { [`${src}.*`]: `${dst}.*` } },
      checkpoint: { name: `full-${src}`, store: new MemoryCheckpointStore() },
      full: {
        splitter: { minDocumentsPerRange: 20, maxRangesPerCollection: 8 },
        executor: { readers: 2, writers: 2, chunkDocuments: 10, readBatchSize: 10 }
      },
      ...options
    });
    const progress: CopyProgressEvent[] = [];
    const phases: PhaseEvent[] = [];
    r.on('progress', e => progress.push(e));
    r.on('phase', e => phases.push(e));
    return { r, progress, phases };
  }

  it('copies collections with mixed _id types, their options, indexes and views, then ends', async () => {
    const src = uniqueDbName('fullsrc');
    const dst = `${src}_copy`;
    const db = d.source.db(src);
    const ids = mixedIds(270);
    await db
      .collection<AnyDoc>('mixed')
      .insertMany(ids.map((_id, i) => ({ _id, i: new Int32(i), tag: `t${i % 7}` })));
    await db.collection('mixed').createIndexes([
      { key: { tag: 1, i: -1 }, name: 'tag_i' },
      { key: { i: 1 }, name: 'i_unique', unique: true },
      { key: { tag: 1 }, name: 'tag_partial', partialFilterExpression: { i: { $gt: 10 } } }
    ]);
    await db.createCollection('capped', { capped: true, size: 4096, max: 50 });
    await db
      .collection<AnyDoc>('capped')
      .insertMany(Array.from({ length: 60 }, (_, i) => ({ _id: i })));
    await db.createCollection('recent', {
      viewOn: 'mixed',
      pipeline: [{ $match: { i: { $gte: 200 } } }]
    });

    const { r, progress, phases } = replicator(src, dst);
    await r.start();
    await withTimeout(r.done, 60_000, 'the full copy to end by itself');

    for (const coll of ['mixed', 'capped']) {
      assert.deepEqual(
        await rawDocuments(d.target, dst, coll),
        await rawDocuments(d.source, src, coll),
        coll
      );
    }
    assert.equal(await d.target.db(dst).collection('mixed').countDocuments(), ids.length);
    assert.deepEqual(await indexes(d.target, dst, 'mixed'), await indexes(d.source, src, 'mixed'));
    const options = async (name: string, side: Deployments['source'], dbName: string) =>
      ((await side.db(dbName).listCollections({ name }).toArray())[0] as Document | undefined)
        ?.options as Document;
    assert.deepEqual(
      await options('capped', d.target, dst),
      await options('capped', d.source, src)
    );
    assert.deepEqual(
      await options('recent', d.target, dst),
      await options('recent', d.source, src)
    );
    assert.equal(await d.target.db(dst).collection('recent').countDocuments(), 70);

    assert.deepEqual(
      phases.map(p => p.phase),
      ['full']
    );
    const last = progress.filter(p => p.sourceNs === `${src}.mixed`).at(-1)!;
    assert.equal(last.documents, ids.length);
    assert.equal(last.rangesDone, last.rangesTotal);
    assert.ok(last.rangesTotal > 1, 'the collection was split');
    assert.equal(r.state, 'stopped');

    // Its checkpoint cannot be resumed in another mode (mode all would miss what came since).
    const again = replicator(src, dst, {
      mode: 'all',
      checkpoint: r.options.checkpoint,
      full: { spoolDir: 'unused' }
    });
    const error = await again.r.start().then(
      () => undefined,
      (e: unknown) => e
    );
    assert.ok(error instanceof CheckpointError, String(error));
    assert.match(error.message, /mode "full"/);
  });

  it('runs without checkpoint options: the checkpoint is "default", in the target', async () => {
    const db = uniqueDbName('fulldefault');
    await d.source
      .db(db)
      .collection<{ _id: number }>('items')
      .insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i })));
    const store = new MongoCheckpointStore(d.target);
    // A shared real target may hold a "default" checkpoint from an earlier run of this test.
    await store.delete('default');
    try {
      const r = new Replicator({
        source: d.sourceUri,
        target: d.targetUri,
        mode: 'full',
        filter: { include: [`${db}.*`] }
      });
      await r.start();
      await withTimeout(r.done, 30_000, 'the copy to finish');
      assert.deepEqual(
        await rawDocuments(d.target, db, 'items'),
        await rawDocuments(d.source, db, 'items')
      );
      assert.ok((await store.load('default'))?.copiedAt, 'the copy is recorded as "default"');
    } finally {
      await store.delete('default');
    }
  });

  it('refuses a non-empty target before writing anything', async () => {
    const src = uniqueDbName('fullfail');
    const dst = `${src}_copy`;
    await d.source
      .db(src)
      .collection<AnyDoc>('a')
      .insertMany([{ _id: 1 }, { _id: 2 }]);
    await d.source
      .db(src)
      .collection<AnyDoc>('b')
      .insertMany([{ _id: 1 }]);
    await d.target.db(dst).collection<AnyDoc>('b').insertOne({ _id: 'mine' });
    const { r } = replicator(src, dst);
    const error = await r.start().then(
      () =>
        withTimeout(
          r.done.then(
            () => undefined,
            (e: unknown) => e
          ),
          30_000,
          'the failure'
        ),
      (e: unknown) => e
    );
    assert.ok(error instanceof TargetExistsError, String(error));
    assert.equal(error.namespace, `${dst}.b`);
    const names = (await d.target.db(dst).listCollections().toArray()).map(c => c.name);
    assert.deepEqual(names, ['b'], 'nothing else was created');
    assert.equal(await d.target.db(dst).collection('b').countDocuments(), 1);
  });

  it('resumes a stopped copy without copying finished ranges again', async () => {
    const src = uniqueDbName('fullresume');
    const dst = `${src}_copy`;
    const total = 400;
    await d.source
      .db(src)
      .collection<AnyDoc>('big')
      .insertMany(Array.from({ length: total }, (_, i) => ({ _id: i, v: 'x'.repeat(100) })));
    const store = new MemoryCheckpointStore();
    const first = replicator(src, dst, {
      checkpoint: { name: 'resume', store },
      full: {
        splitter: { minDocumentsPerRange: 20, maxRangesPerCollection: 10 },
        executor: { readers: 1, writers: 1, chunkDocuments: 5, readBatchSize: 5 }
      }
    });
    await first.r.start();
    await withTimeout(
      first.r.waitFor('progress', { filter: e => e.rangesDone >= 2 }),
      30_000,
      'two finished ranges'
    );
    await first.r.stop();
    const copiedBefore = first.progress.at(-1)!.documents;
    assert.ok(copiedBefore < total, 'stopped before the end');
    const stored = await loadCheckpoint(store, 'resume');
    const doneRanges = stored!.copy![0]!.ranges.filter(range => range.done).length;
    assert.ok(doneRanges >= 2, `the checkpoint records finished ranges (${doneRanges})`);

    const second = replicator(src, dst, { checkpoint: { name: 'resume', store } });
    await second.r.start();
    await withTimeout(second.r.done, 60_000, 'the resumed copy');
    assert.deepEqual(
      await rawDocuments(d.target, dst, 'big'),
      await rawDocuments(d.source, src, 'big')
    );
    const recopied = second.progress.at(-1)!.overall.documents;
    assert.ok(
      recopied < total,
      `the finished ranges were not copied again (${recopied} of ${total} copied on resume)`
    );
  });
});
