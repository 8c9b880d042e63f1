import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Binary,
  Decimal128,
  Double,
  Int32,
  Long,
  MongoClient as Client,
  type MongoClient,
  ObjectId
} from 'mongodb';

import { TargetWriteError } from '../../src/errors.js';
import {
  CollectionExecutor,
  type CollectionExecutorOptions,
  type CopyProgressEvent,
  type CopyTask,
  type RangeCopiedEvent
} from '../../src/full/collection-executor.js';
import { type IdRange } from '../../src/split/document-splitter.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';

/** Documents with `_id`s of any type (the driver's default types `_id` as ObjectId). */
type AnyDoc = { _id?: number | string | boolean | object | null; [field: string]: unknown };

/** `_id`s of many BSON types, in their BSON order, so split points fall between types. */
function mixedIds(): unknown[] {
  const ids: unknown[] = [];
  for (let i = 0; i < 40; i++) ids.push(i % 2 ? new Int32(i) : new Double(i + 0.5));
  for (let i = 0; i < 10; i++) ids.push(Long.fromNumber(100 + i));
  ids.push(Decimal128.fromString('1000.25'));
  for (let i = 0; i < 30; i++) ids.push(`s${String(i).padStart(3, '0')}`);
  for (let i = 0; i < 10; i++) ids.push({ k: i });
  for (let i = 0; i < 10; i++) ids.push(new Binary(Buffer.from([i, i])));
  for (let i = 0; i < 20; i++) ids.push(ObjectId.createFromTime(1_700_000_000 + i));
  ids.push(false, true);
  for (let i = 0; i < 10; i++) ids.push(new Date(1_700_000_000_000 + i));
  return ids;
}

/** Ranges of `ns` cut at the given split points (min inclusive, max exclusive). */
function rangesAt(namespace: string, points: unknown[], total: number): IdRange[] {
  const bounds = [undefined, ...points, undefined];
  return bounds.slice(0, -1).map((min, index) => ({
    namespace,
    index,
    count: bounds.length - 1,
    ...(min === undefined ? {} : { min }),
    ...(bounds[index + 1] === undefined ? {} : { max: bounds[index + 1] }),
    estimatedDocuments: Math.round(total / (bounds.length - 1))
  }));
}

describe('CollectionExecutor', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  /** A source collection of mixed `_id`s, and tasks copying it in ranges into `targetDb.c`. */
  async function setUp(prefix: string, resumed = false) {
    const db = uniqueDbName(prefix);
    const ids = mixedIds();
    await d.source
      .db(db)
      .collection<AnyDoc>('c')
      .insertMany(
        ids.map((id, i) => ({
          _id: id as object,
          i: new Int32(i),
          x: new Double(i),
          pad: 'p'.repeat(i)
        }))
      );
    // Split points inside the numbers, between types, and inside the ObjectIds.
    const points = [
      new Int32(7),
      Long.fromNumber(104),
      's010',
      ObjectId.createFromTime(1_700_000_010)
    ];
    const tasks: CopyTask[] = rangesAt(`${db}.c`, points, ids.length).map(range => ({
      range,
      targetNs: `${db}_copy.c`,
      resumed
    }));
    return { db, ids, tasks, targetDb: `${db}_copy` };
  }

  function run(
    options: Partial<CollectionExecutorOptions> & Pick<CollectionExecutorOptions, 'tasks'>
  ) {
    const executor = new CollectionExecutor({
      source: d.source,
      target: d.target,
      readers: 3,
      writers: 2,
      chunkDocuments: 7,
      readBatchSize: 5,
      retry: { minDelayMs: 5, jitter: false },
      ...options
    });
    const ranges: RangeCopiedEvent[] = [];
    const progress: CopyProgressEvent[] = [];
    executor.on('range', e => ranges.push(e));
    executor.on('progress', e => progress.push(e));
    return { executor, ranges, progress };
  }

  it('copies every range of a collection with mixed _id types, byte for byte', async () => {
    const { db, ids, tasks, targetDb } = await setUp('exec');
    const { executor, ranges, progress } = run({ tasks });
    await executor.start();
    await withTimeout(executor.done, 30_000, 'the copy');
    assert.deepEqual(
      await rawDocuments(d.target, targetDb, 'c'),
      await rawDocuments(d.source, db, 'c')
    );
    assert.equal(ranges.length, tasks.length, 'one range event per task');
    assert.equal(
      ranges.reduce((sum, r) => sum + r.documents, 0),
      ids.length,
      'each document copied exactly once'
    );
    assert.equal(ranges.filter(r => r.namespaceDone).length, 1);
    const last = progress.at(-1)!;
    assert.equal(last.documents, ids.length);
    assert.equal(last.rangesDone, tasks.length);
    assert.equal(last.rangesTotal, tasks.length);
    assert.equal(last.namespace, `${targetDb}.c`);
    assert.equal(last.phase, 'full');
    assert.equal(last.overall.documents, ids.length);
    assert.ok(last.overall.estimatedDocuments > 0);
    assert.equal(typeof last.etaMs, 'number', 'an ETA once a rate is known');
  });

  it('fails on an _id the target already holds, or replaces it when asked', async () => {
    const { db, tasks, targetDb } = await setUp('dup');
    await d.target.db(targetDb).collection<AnyDoc>('c').insertOne({ _id: 's005', stale: true });
    const failing = run({ tasks });
    await failing.executor.start();
    const error = await withTimeout(
      failing.executor.done.then(
        () => undefined,
        (e: unknown) => e
      ),
      30_000,
      'the copy to fail'
    );
    assert.ok(error instanceof TargetWriteError, String(error));
    assert.equal(error.namespace, `${targetDb}.c`);
    assert.match(error.message, /already holds/);

    const replacing = run({ tasks, onDuplicate: 'replace' });
    await replacing.executor.start();
    await withTimeout(replacing.executor.done, 30_000, 'the copy');
    assert.deepEqual(
      await rawDocuments(d.target, targetDb, 'c'),
      await rawDocuments(d.source, db, 'c')
    );
    assert.ok((replacing.progress.at(-1)?.replaced ?? 0) >= 1);
  });

  it('a resumed range replaces its own earlier writes whatever the policy', async () => {
    const { db, tasks, targetDb } = await setUp('resume', true);
    // An earlier run copied part of the data.
    const some = await d.source.db(db).collection<AnyDoc>('c').find({}, { limit: 30 }).toArray();
    await d.target.db(targetDb).collection<AnyDoc>('c').insertMany(some);
    const { executor } = run({ tasks, onDuplicate: 'fail' });
    await executor.start();
    await withTimeout(executor.done, 30_000, 'the copy');
    assert.deepEqual(
      await rawDocuments(d.target, targetDb, 'c'),
      await rawDocuments(d.source, db, 'c')
    );
  });

  it('carries on after a dropped connection in the middle of a range', async () => {
    const { db, ids, tasks, targetDb } = await setUp('drop');
    // Its own client, so the fail point's dropped connections only hit this copy.
    const source: MongoClient = new Client(d.sourceUri, { retryReads: false });
    await source.connect();
    try {
      await source.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { skip: 3, times: 1 },
        data: { failCommands: ['getMore'], closeConnection: true }
      });
      const { executor, ranges } = run({ tasks, source });
      const retries: string[] = [];
      executor.on('retry', e => retries.push(e.operation));
      await executor.start();
      await withTimeout(executor.done, 30_000, 'the copy');
      assert.ok(
        retries.some(op => /^read /.test(op)),
        'the reader retried'
      );
      assert.equal(
        ranges.reduce((sum, r) => sum + r.documents, 0),
        ids.length,
        'no document read twice or skipped'
      );
      assert.deepEqual(
        await rawDocuments(d.target, targetDb, 'c'),
        await rawDocuments(d.source, db, 'c')
      );
    } finally {
      await source.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
      await source.close();
    }
  });

  it('follows a collection renamed during the copy, and ends a dropped one', async () => {
    const { db, ids, tasks, targetDb } = await setUp('renamed');
    const [info] = await d.source.db(db).listCollections({ name: 'c' }).toArray();
    const uuid = (info as { info?: { uuid?: unknown } }).info?.uuid;
    assert.ok(uuid !== undefined, 'the source reports collection UUIDs');
    const withUuid = tasks.map(task => ({ ...task, sourceUuid: uuid }));
    const { executor, ranges } = run({ tasks: withUuid, readers: 1, writers: 1, readBatchSize: 2 });
    await executor.start();
    await executor.waitFor('progress');
    await d.source.db('admin').command({ renameCollection: `${db}.c`, to: `${db}.moved` });
    await withTimeout(executor.done, 30_000, 'the copy');
    assert.equal(
      ranges.reduce((sum, r) => sum + r.documents, 0),
      ids.length,
      'every document was read once, before and after the rename'
    );
    assert.deepEqual(
      await rawDocuments(d.target, targetDb, 'c'),
      await rawDocuments(d.source, db, 'moved')
    );

    const dropped = await setUp('dropped');
    const second = run({ tasks: dropped.tasks, readers: 1, writers: 1, readBatchSize: 2 });
    await second.executor.start();
    await second.executor.waitFor('progress');
    await d.source.db(dropped.db).collection('c').drop();
    await withTimeout(second.executor.done, 30_000, 'the copy to end');
    assert.equal(second.ranges.length, dropped.tasks.length, 'every range ends');
  });

  it('a graceful stop reports only finished ranges; copying the rest completes the collection', async () => {
    const { db, tasks, targetDb } = await setUp('stop');
    const first = run({ tasks, readers: 1, writers: 1 });
    await first.executor.start();
    await first.executor.waitFor('range');
    await withTimeout(first.executor.stop(), 10_000, 'a graceful stop');
    const done = new Set(first.ranges.map(r => r.task.range.index));
    assert.ok(done.size >= 1 && done.size < tasks.length, `some ranges done (${done.size})`);
    const rest = tasks.filter(t => !done.has(t.range.index)).map(t => ({ ...t, resumed: true }));
    const second = run({ tasks: rest });
    await second.executor.start();
    await withTimeout(second.executor.done, 30_000, 'the rest of the copy');
    assert.deepEqual(
      await rawDocuments(d.target, targetDb, 'c'),
      await rawDocuments(d.source, db, 'c')
    );
  });

  it('validates its options before any I/O', () => {
    const base = { source: d.source, target: d.target, tasks: [] };
    assert.throws(() => new CollectionExecutor({ ...base, readers: 0 }), /readers/);
    assert.throws(() => new CollectionExecutor({ ...base, writers: 1.5 }), /writers/);
    assert.throws(
      () => new CollectionExecutor({ ...base, onDuplicate: 'skip' as never }),
      /onDuplicate/
    );
    assert.throws(
      () =>
        new CollectionExecutor({
          ...base,
          tasks: [{ range: rangesAt('a.b', [], 0)[0]!, targetNs: 'nodot', resumed: false }]
        }),
      /targetNs/
    );
    assert.throws(() => new CollectionExecutor({ ...base, target: {} as never }), /target/);
  });
});
