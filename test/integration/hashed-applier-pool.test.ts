import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Binary,
  type ClientSession,
  type Document,
  Double,
  Int32,
  Long,
  MongoClient as Client,
  type MongoClient,
  Timestamp
} from 'mongodb';

import { type ApplierConflictEvent } from '../../src/apply/applier-lane.js';
import { type AppliedBatchEvent, HashedApplierPool } from '../../src/apply/hashed-applier-pool.js';
import { ApplyConflictError, TargetWriteError } from '../../src/errors.js';
import { type StageState } from '../../src/events.js';
import { BoundedQueue } from '../../src/lifecycle/bounded-queue.js';
import { type OplogEntry, parseOplogEntry } from '../../src/oplog/oplog-entry.js';
import { TransactionAssembler } from '../../src/oplog/transactions.js';
import { type ApplyBatch, type TxnBatch } from '../../src/pipeline/pipeline-items.js';
import { newestOplogTs } from '../server/support.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { applyAll, crudOp, readOplog, toBatches } from '../support/pool-batches.js';
import { rawDocuments } from '../support/replication.js';
import { timeoutSignal, waitUntil, withTimeout } from '../support/timeout-signal.js';

/** Documents with `_id`s of any type (the driver's default types `_id` as ObjectId). */
type AnyDoc = {
  _id?: number | string | boolean | object | null;
  [field: string]: Document[string];
};

/** The error a stage fails with (undefined if it stops cleanly), waited for with a deadline. */
function failureOf(stage: { done: Promise<void> }): Promise<unknown> {
  return withTimeout(
    stage.done.then(
      () => undefined,
      (e: unknown) => e
    ),
    10_000,
    'the stage to fail'
  );
}

async function assertSameCollection(d: Deployments, db: string, coll: string): Promise<void> {
  const [source, target] = await Promise.all([
    rawDocuments(d.source, db, coll),
    rawDocuments(d.target, db, coll)
  ]);
  assert.ok(source.length > 0, `${db}.${coll} has documents`);
  assert.deepEqual(target, source, `${db}.${coll} is byte-identical on the target`);
}

describe('HashedApplierPool', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  it('applies a mixed workload so that the target is byte-identical to the source', async () => {
    const db = uniqueDbName('pool');
    const since = await newestOplogTs(d.source);
    // A stale copy on the target: the source's insert of this _id becomes a replace-upsert.
    await d.target
      .db(db)
      .collection('docs')
      .insertOne({ _id: 'dup' as never, stale: true });
    const docs = d.source.db(db).collection<AnyDoc>('docs');
    await docs.insertMany([
      { _id: new Int32(1), n: new Int32(1), tags: ['a', 'b'], nested: { x: 1, y: { z: 2 } } },
      { _id: new Double(2), n: new Double(2.5), arr: [1, 2, 3, 4, 5] },
      { _id: Long.fromNumber(3), n: Long.fromNumber(3), s: 'three' },
      { _id: 'dup', fresh: true },
      { _id: 'gone', x: 1 }
    ]);
    await docs.updateOne({ _id: new Double(1) }, { $set: { 'nested.y.w': 3, b: 1, a: 2 } });
    await docs.updateOne({ _id: Long.fromNumber(1) }, { $unset: { tags: '' }, $inc: { n: 1 } });
    await docs.updateOne({ _id: 2 }, { $push: { arr: 6 } } as Document);
    await docs.updateOne({ _id: 2 }, { $set: { 'arr.1': 'two' } });
    await docs.updateOne({ _id: 2 }, { $pop: { arr: -1 } });
    await docs.updateOne({ _id: new Int32(3) }, [{ $set: { s: { $concat: ['$s', '!'] }, t: 1 } }]);
    await docs.replaceOne({ _id: 'dup' }, { fresh: 2, order: { b: 1, a: 2 } });
    await docs.deleteOne({ _id: 'gone' });
    await docs.insertOne({ _id: 'gone', again: true });
    const other = d.source.db(db).collection<AnyDoc>('other');
    for (let i = 0; i < 30; i++) await other.insertOne({ _id: i, v: i });
    await other.updateMany({ _id: { $lt: 10 } }, { $set: { even: true } });
    await other.deleteMany({ _id: { $gte: 25 } });

    const entries = await readOplog(d.source, db, since);
    const batches = toBatches(entries, 7);
    const { pool, applied, conflicts } = await applyAll(d, batches);
    await assertSameCollection(d, db, 'docs');
    await assertSameCollection(d, db, 'other');

    assert.equal(applied.length, batches.length);
    applied.forEach((event, i) => {
      assert.equal(event.kind, batches[i]!.kind);
      assert.ok(event.checkpointOptime.equals(batches[i]!.checkpointOptime));
    });
    assert.deepEqual(conflicts, []);
    const stats = pool.stats;
    assert.equal(stats.upserts, 1, 'the stale "dup" was replaced');
    assert.equal(stats.conflicts, 0);
    assert.equal(stats.inserts, entries.filter(e => e.op === 'i').length);
    assert.equal(stats.updates, entries.filter(e => e.op === 'u').length);
    assert.equal(stats.deletes, entries.filter(e => e.op === 'd').length);

    // Replaying everything (a restart from an old checkpoint) changes nothing.
    const replay = await applyAll(d, toBatches(entries, 5));
    await assertSameCollection(d, db, 'docs');
    await assertSameCollection(d, db, 'other');
    // Every insert of a document that still exists is now a duplicate → replace-upsert; the
    // documents the stream deletes are re-inserted first, so nothing misses.
    assert.ok(replay.pool.stats.upserts > 0);
    assert.equal(replay.pool.stats.conflicts, 0);
  });

  it('applies binary diffs (b) to the document read from the target, in order with the rest', async () => {
    const db = uniqueDbName('binary');
    const target = d.target.db(db).collection<AnyDoc>('buckets');
    await target.insertOne({
      _id: 1,
      data: { t: new Binary(Buffer.from([1, 2, 3, 4]), 7), n: 1 },
      tail: 0
    });
    const at = (i: number) => new Timestamp({ t: 1_700_000_000, i });
    const update = (i: number, diff: Document) =>
      parseOplogEntry({
        op: 'u',
        ns: `${db}.buckets`,
        ts: at(i),
        t: Long.fromNumber(1),
        v: new Int32(2),
        wall: new Date(0),
        o: { $v: new Int32(2), diff },
        o2: { _id: 1 }
      });
    const entries = [
      update(1, { u: { tail: 1 } }),
      update(2, { sdata: { b: { t: { o: new Int32(3), d: new Binary(Buffer.from([9, 9])) } } } }),
      update(3, { u: { tail: 2 } }),
      // A document the target does not have: a miss, counted as a conflict, never a write.
      parseOplogEntry({
        ...update(4, { b: { t: { o: new Int32(0), d: new Binary(Buffer.from([5])) } } }).raw,
        o2: { _id: 2 }
      })
    ];
    const { conflicts, pool } = await applyAll(d, toBatches(entries, 10));
    const doc = await target.findOne({ _id: 1 }, { promoteValues: false });
    const bytes = (doc!.data as { t: Binary }).t;
    assert.deepEqual([...bytes.buffer.subarray(0, bytes.position)], [1, 2, 3, 9, 9]);
    assert.equal(bytes.sub_type, 7);
    assert.deepEqual(Object.keys(doc!.data as Document), ['t', 'n']);
    assert.equal((doc!.tail as Int32).value, 2, 'the updates around it kept their order');
    assert.deepEqual(
      conflicts.map(c => [c.op, c.idType]),
      [['u', 'int']]
    );
    assert.equal(pool.stats.updates, 4);
  });

  describe('conflicts', () => {
    /** A source document inserted then updated (and, with `remove`, deleted afterwards). */
    async function missingOnTarget(remove: boolean) {
      const db = uniqueDbName('conflict');
      const coll = d.source.db(db).collection<AnyDoc>('c');
      await coll.insertOne({ _id: 'keep', v: 0 });
      const since = await newestOplogTs(d.source);
      await coll.insertOne({ _id: 'x', v: 1 });
      await coll.updateOne({ _id: 'x' }, { $set: { v: 2 } });
      await coll.updateOne({ _id: 'keep' }, { $set: { v: 1 } });
      if (remove) await coll.deleteOne({ _id: 'x' });
      await d.target
        .db(db)
        .collection('c')
        .insertOne({ _id: 'keep' as never, v: 0 });
      // Leave the insert of x out: the target misses that document.
      const entries = (await readOplog(d.source, db, since)).filter(e => e.op !== 'i');
      const update = entries.find(e => e.op === 'u' && e.o2._id === 'x')!;
      return { db, batches: toBatches(entries, 100), update };
    }

    it('ignore: counts the miss and emits a conflict event', async () => {
      const { db, batches, update } = await missingOnTarget(false);
      const { pool, conflicts, applied } = await applyAll(d, batches, { conflictPolicy: 'ignore' });
      assert.equal(conflicts.length, 1);
      const [conflict] = conflicts;
      assert.equal(conflict!.namespace, `${db}.c`);
      assert.equal(conflict!.op, 'u');
      assert.equal(conflict!.idType, 'string');
      assert.ok(conflict!.optime.equals(update.ts));
      assert.equal(conflict!.action, 'ignored');
      assert.equal(pool.stats.conflicts, 1);
      assert.equal(applied.at(-1)!.conflicts, 1);
      assert.equal(
        await d.target
          .db(db)
          .collection('c')
          .countDocuments({ _id: 'x' as never }),
        0
      );
      assert.equal(
        (
          await d.target
            .db(db)
            .collection('c')
            .findOne({ _id: 'keep' as never })
        )?.v,
        1
      );
    });

    it('ignore: a delete of a missing document is a conflict too', async () => {
      const { batches } = await missingOnTarget(true);
      const { conflicts } = await applyAll(d, batches);
      assert.deepEqual(
        conflicts.map(c => `${c.op}:${c.idType}`),
        ['u:string', 'd:string']
      );
    });

    it('upsert: copies the current document from the source', async () => {
      const { db, batches } = await missingOnTarget(false);
      const { conflicts } = await applyAll(d, batches, {
        conflictPolicy: 'upsert',
        source: d.source
      });
      assert.deepEqual(
        conflicts.map(c => c.action),
        ['upserted']
      );
      await assertSameCollection(d, db, 'c');
    });

    it('upsert: deletes on the target what the source no longer has', async () => {
      const { db, batches } = await missingOnTarget(true);
      const { conflicts } = await applyAll(d, batches, {
        conflictPolicy: 'upsert',
        source: d.source
      });
      assert.deepEqual(
        conflicts.map(c => c.action),
        ['deleted', 'deleted']
      );
      await assertSameCollection(d, db, 'c');
    });

    it('fail: stops with ApplyConflictError naming the namespace and optime', async () => {
      const { db, batches, update } = await missingOnTarget(false);
      const input = new BoundedQueue<ApplyBatch>(100, Infinity);
      for (const batch of batches) await input.push(batch, 0);
      const pool = new HashedApplierPool({ input, target: d.target, conflictPolicy: 'fail' });
      const applied: AppliedBatchEvent[] = [];
      pool.on('applied', e => applied.push(e));
      await pool.start();
      const error = await failureOf(pool);
      assert.ok(error instanceof ApplyConflictError, String(error));
      assert.equal(error.namespace, `${db}.c`);
      assert.ok(error.optime?.equals(update.ts));
      assert.equal(pool.state, 'failed');
      assert.deepEqual(applied, [], 'the failing batch is never reported');
    });

    it('before catchUpUntil a miss is expected: counted, no event', async () => {
      const { batches } = await missingOnTarget(true);
      const last = batches.at(-1)!.lastOptime;
      const { pool, conflicts, applied } = await applyAll(d, batches, {
        conflictPolicy: 'fail',
        catchUpUntil: last
      });
      assert.deepEqual(conflicts, []);
      assert.equal(pool.stats.expectedMissing, 2);
      assert.equal(pool.stats.conflicts, 0);
      assert.equal(applied.at(-1)!.expectedMissing, 2);
    });
  });

  it('applies a nested update exactly where the target holds another version of the document', async () => {
    const db = uniqueDbName('versions');
    const coll = d.source.db(db).collection<AnyDoc>('c');
    await coll.insertMany([
      { _id: 1, nested: { a: 1, b: 1 }, n: 0 },
      { _id: 2, v: 0 },
      { _id: 3, gone: true }
    ]);
    const since = await newestOplogTs(d.source);
    await coll.deleteOne({ _id: 3 });
    await coll.updateOne({ _id: 1 }, { $set: { 'nested.a': 2 }, $inc: { n: 1 } });
    await coll.updateOne({ _id: 2 }, { $set: { v: 1 } });
    // The target's version of 1 holds no document under `nested` (a replay after a restart, or
    // the state a conflict re-copy left): the secondary's rule for such a sub-diff is `null`.
    await d.target
      .db(db)
      .collection('c')
      .insertMany([
        { _id: 1 as never, nested: 'not a document', n: 0 },
        { _id: 2 as never, v: 0 },
        { _id: 3 as never, gone: true }
      ]);
    const entries = await readOplog(d.source, db, since);
    // One lane: the delete, both updates and the later write form a single ordered run.
    const { pool, conflicts } = await applyAll(d, toBatches(entries, 100), { lanes: 1 });
    const target = d.target.db(db).collection<AnyDoc>('c');
    assert.deepEqual(await target.find({}, { sort: { _id: 1 } }).toArray(), [
      { _id: 1, nested: null, n: 1 },
      { _id: 2, v: 1 }
    ]);
    assert.deepEqual(conflicts, []);
    assert.equal(pool.stats.conflicts, 0, 'the replayed delete is not a conflict');
  });

  it('applies DDL alone, idempotently on re-apply', async () => {
    const db = uniqueDbName('ddl');
    const since = await newestOplogTs(d.source);
    const sdb = d.source.db(db);
    await sdb.createCollection('a');
    await sdb.collection<AnyDoc>('a').insertMany([
      { _id: 1, k: 1 },
      { _id: 2, k: 2 }
    ]);
    await sdb.collection('a').createIndex({ k: 1 }, { name: 'k_1', unique: true });
    await sdb.collection('a').rename('b');
    await sdb.createCollection('temp');
    await sdb.collection('temp').drop();
    await sdb.collection('b').dropIndex('k_1');
    await sdb.collection('b').createIndex({ k: -1 }, { name: 'k_-1' });
    const batches = toBatches(await readOplog(d.source, db, since), 100);
    assert.ok(batches.some(b => b.kind === 'ddl'));

    const first = await applyAll(d, batches);
    assert.equal(first.pool.stats.alreadyApplied, 0);
    const names = async (client: MongoClient) =>
      (await client.db(db).listCollections({}, { nameOnly: true }).toArray())
        .map(c => c.name)
        .sort();
    const indexes = async (client: MongoClient) =>
      (await client.db(db).collection('b').indexes()).map(i => i.name).sort();
    assert.deepEqual(await names(d.target), await names(d.source));
    assert.deepEqual(await names(d.target), ['b']);
    assert.deepEqual(await indexes(d.target), await indexes(d.source));
    await assertSameCollection(d, db, 'b');

    // From the start again: every DDL either works again or is reported as already applied.
    const again = await applyAll(d, batches);
    assert.ok(again.pool.stats.alreadyApplied > 0);
    assert.deepEqual(await names(d.target), ['b']);
    await assertSameCollection(d, db, 'b');
  });

  it('stops on a DDL the target rejects, naming the command', async () => {
    const db = uniqueDbName('ddlbad');
    const ts = await newestOplogTs(d.source);
    const entry = parseOplogEntry({ ts, op: 'c', ns: `${db}.$cmd`, o: { create: 'x' } });
    if (entry.op !== 'c') throw new Error('unreachable');
    const input = new BoundedQueue<ApplyBatch>(10, Infinity);
    await input.push(
      {
        kind: 'ddl',
        entry,
        command: { db, command: { create: 'x', capped: true } },
        lastOptime: ts,
        checkpointOptime: ts,
        skipped: 0
      },
      0
    );
    input.close();
    const pool = new HashedApplierPool({ input, target: d.target });
    await pool.start();
    const error = await failureOf(pool);
    assert.ok(error instanceof TargetWriteError, String(error));
    assert.match(error.message, /create of .*\.x/);
    assert.equal(error.namespace, `${db}.x`);
  });

  it('retries a dropped connection and still converges', async () => {
    const db = uniqueDbName('retry');
    const since = await newestOplogTs(d.source);
    await d.source
      .db(db)
      .collection<AnyDoc>('r')
      .insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, v: i })));
    const batches = toBatches(await readOplog(d.source, db, since), 1000);
    // Without the driver's own single retry, the pool's retry is what recovers.
    const target = new Client(d.targetUri, { retryWrites: false });
    await target.connect();
    try {
      await target.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['insert'], closeConnection: true }
      });
      const retries: string[] = [];
      const input = new BoundedQueue<ApplyBatch>(100, Infinity);
      for (const batch of batches) await input.push(batch, 0);
      input.close();
      const pool = new HashedApplierPool({
        input,
        target,
        retry: { minDelayMs: 5, jitter: false }
      });
      pool.on('retry', e => retries.push(e.operation));
      await pool.start();
      await withTimeout(pool.done, 20_000, 'the pool to finish');
      // The closed connection clears the driver's pool, so the lanes writing at that moment
      // all see a transient error: one retry event each.
      assert.ok(retries.length >= 1);
      for (const operation of retries) assert.match(operation, /insertMany/);
      await assertSameCollection(d, db, 'r');
    } finally {
      await target.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
      await target.close();
    }
  });

  it('reports only a prefix of the batches, in order, when a write fails with batches in flight', async () => {
    const db = uniqueDbName('inflight');
    const since = await newestOplogTs(d.source);
    const coll = d.source.db(db).collection<AnyDoc>('f');
    for (let i = 0; i < 60; i++) await coll.insertOne({ _id: i, v: i });
    // One insert per batch, so many batches are in flight over the lanes at once.
    const batches = toBatches(await readOplog(d.source, db, since), 1);
    await d.target.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { skip: 20 },
      data: { failCommands: ['insert'], errorCode: 2 }
    });
    try {
      const input = new BoundedQueue<ApplyBatch>(batches.length + 1, Infinity);
      for (const batch of batches) await input.push(batch, 0);
      input.close();
      const pool = new HashedApplierPool({ input, target: d.target, maxBatchesInFlight: 8 });
      const applied: AppliedBatchEvent[] = [];
      pool.on('applied', e => applied.push(e));
      await pool.start();
      const error = await failureOf(pool);
      assert.ok(error instanceof TargetWriteError, String(error));
      assert.match(error.message, /code 2\b/);
      assert.ok(applied.length < batches.length, 'the failed batch is not reported');
      applied.forEach((event, i) => {
        assert.ok(
          event.checkpointOptime.equals(batches[i]!.checkpointOptime),
          `batch ${i} in order`
        );
      });
      // Everything a reported batch covers is on the target.
      const onTarget = new Set(
        (await d.target.db(db).collection<AnyDoc>('f').find().toArray()).map(doc => doc._id)
      );
      for (const batch of batches.slice(0, applied.length)) {
        if (batch.kind !== 'crud') continue;
        for (const op of batch.ops)
          assert.ok(onTarget.has(Number(op.id)), `document ${String(op.id)}`);
      }
    } finally {
      await d.target.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
  });

  it('goes through the exact state sequence, and a graceful stop drains the input', async () => {
    const db = uniqueDbName('stop');
    const since = await newestOplogTs(d.source);
    await d.source
      .db(db)
      .collection<AnyDoc>('s')
      .insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: i })));
    const batches = toBatches(await readOplog(d.source, db, since), 5);
    const input = new BoundedQueue<ApplyBatch>(100, Infinity);
    const pool = new HashedApplierPool({ input, target: d.target, lanes: 2 });
    const states: StageState[] = [];
    const applied: AppliedBatchEvent[] = [];
    pool.on('state', e => states.push(e.to));
    pool.on('applied', e => applied.push(e));
    await pool.start();
    for (const batch of batches) await input.push(batch, 0);
    await withTimeout(pool.stop(), 10_000, 'a graceful stop');
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    assert.equal(applied.length, batches.length, 'everything queued was applied');
    assert.equal(input.closed, true);
    assert.equal(await input.push(batches[0]!, 0), false);
    await assertSameCollection(d, db, 's');
  });

  it('measures throughput on a 20k-op insert + update workload', async () => {
    const db = uniqueDbName('perf');
    const since = await newestOplogTs(d.source);
    const coll = d.source.db(db).collection<AnyDoc>('p');
    const n = 10_000;
    await coll.insertMany(Array.from({ length: n }, (_, i) => ({ _id: i, v: i, s: `doc ${i}` })));
    await coll.bulkWrite(
      Array.from({ length: n }, (_, i) => ({
        updateOne: { filter: { _id: i }, update: { $set: { v: i * 2, u: true } } }
      }))
    );
    const entries = await readOplog(d.source, db, since);
    const batches = toBatches(entries, 5_000);
    const ops = batches.reduce((sum, b) => sum + (b.kind === 'crud' ? b.ops.length : 0), 0);
    assert.equal(ops, 2 * n);
    const started = performance.now();
    await applyAll(d, batches, { lanes: 16 });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `HashedApplierPool: ${ops} ops in ${seconds.toFixed(2)} s = ${Math.round(ops / seconds)} ops/s (16 lanes, batches of 5000, ${d.emulated ? 'test servers' : 'MongoDB'})`
    );
    await assertSameCollection(d, db, 'p');
  });
});

describe('HashedApplierPool options', () => {
  const input = new BoundedQueue<ApplyBatch>(1, Infinity);
  const target = new Client('mongodb://localhost:1');

  it('validates before any I/O', () => {
    assert.throws(() => new HashedApplierPool({ input, target, lanes: 0 }), /lanes/);
    assert.throws(() => new HashedApplierPool({ input, target, lanes: 1.5 }), /lanes/);
    assert.throws(
      () => new HashedApplierPool({ input, target, conflictPolicy: 'skip' as never }),
      /conflictPolicy/
    );
    assert.throws(
      () => new HashedApplierPool({ input, target, conflictPolicy: 'upsert' }),
      /source/
    );
    assert.throws(
      () => new HashedApplierPool({ input, target, catchUpUntil: 5 as never }),
      /catchUpUntil/
    );
    assert.throws(
      () => new HashedApplierPool({ input, target, retry: { minDelayMs: -1 } }),
      /retry/
    );
    assert.throws(
      () => new HashedApplierPool({ input, target, maxBatchesInFlight: 0 }),
      /maxBatchesInFlight/
    );
    const pool = new HashedApplierPool({ input, target });
    assert.equal(pool.options.lanes, 16);
    assert.equal(pool.options.conflictPolicy, 'ignore');
    assert.equal(pool.options.maxBatchesInFlight, 3);
  });
});

/** Runs `work` in one transaction on `client`. */
async function inTransaction(
  client: MongoClient,
  work: (session: ClientSession) => Promise<void>
): Promise<void> {
  const session = client.startSession();
  try {
    await session.withTransaction(() => work(session));
  } finally {
    await session.endSession();
  }
}

/**
 * The last transaction the source committed after `since`, as the ReplBatcher sends it with
 * `transactions: 'preserve'` (names unchanged).
 */
async function sourceTransaction(
  source: MongoClient,
  since: Timestamp,
  extra: Partial<TxnBatch> = {}
): Promise<TxnBatch> {
  const raws = await source
    .db('local')
    .collection('oplog.rs')
    .find({ ts: { $gt: since }, ns: 'admin.$cmd' }, { sort: { $natural: 1 }, promoteValues: false })
    .toArray();
  const assembler = new TransactionAssembler();
  let committed: { ops: OplogEntry[]; commit: OplogEntry } | undefined;
  for (const entry of raws.map(raw => parseOplogEntry(raw))) {
    if (entry.lsid === undefined) continue;
    const ops = assembler.push(entry);
    if (ops.length > 0) committed = { ops, commit: entry };
  }
  assert.ok(committed !== undefined, 'the source logged a transaction');
  const { ops, commit } = committed;
  return {
    kind: 'txn',
    ops: ops.map(crudOp).filter(op => op !== undefined),
    bytes: 0,
    lsid: commit.lsid!,
    txnNumber: commit.txnNumber!,
    lastOptime: commit.ts,
    checkpointOptime: commit.ts,
    skipped: 0,
    ...extra
  };
}

describe('HashedApplierPool txn batches', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  it('applies a transaction in one target transaction: a reader sees none or all of it', async () => {
    const db = uniqueDbName('txn');
    const n = 60;
    for (const client of [d.source, d.target]) {
      await client.db(db).createCollection('a');
      await client.db(db).createCollection('b');
    }
    const since = await newestOplogTs(d.source);
    // Interleaved namespaces: each write is a run of its own, one round trip each, so a
    // non-atomic apply would show a reader many partial states.
    await inTransaction(d.source, async session => {
      for (let i = 0; i < n; i++) {
        await d.source
          .db(db)
          .collection<AnyDoc>('a')
          .insertOne({ _id: i, marker: 'm' }, { session });
        await d.source
          .db(db)
          .collection<AnyDoc>('b')
          .insertOne({ _id: i, between: true }, { session });
      }
    });
    const token = { _data: 'token-after-the-transaction' };
    const batch = await sourceTransaction(d.source, since, { resumeToken: token });
    assert.equal(batch.ops.length, 2 * n);

    const counts: number[] = [];
    let reading = true;
    const marked = d.target.db(db).collection('a');
    const reader = (async () => {
      while (reading) counts.push(await marked.countDocuments({ marker: 'm' }));
    })();
    try {
      await waitUntil(() => counts.length > 0, timeoutSignal(10_000, 'the first read'));
      const readsBefore = counts.length;
      const { applied, pool } = await applyAll(d, [batch], { writeConcern: { w: 'majority' } });
      const readsDuring = counts.length - readsBefore;
      reading = false;
      await reader;
      assert.ok(
        readsDuring >= 2,
        `the reader kept reading while the pool applied (${readsDuring})`
      );
      const partial = counts.filter(count => count !== 0 && count !== n);
      assert.deepEqual(partial, [], 'no read saw part of the transaction');
      assert.equal(await marked.countDocuments({ marker: 'm' }), n);
      await assertSameCollection(d, db, 'a');
      await assertSameCollection(d, db, 'b');

      assert.equal(applied.length, 1);
      const [event] = applied;
      assert.equal(event!.kind, 'txn');
      assert.equal(event!.ops, 2 * n);
      assert.equal(event!.inserts, 2 * n);
      assert.equal(event!.upserts, 0);
      assert.equal(event!.conflicts, 0);
      assert.ok(event!.checkpointOptime.equals(batch.checkpointOptime));
      assert.deepEqual(event!.resumeToken, token);
      assert.equal(pool.stats.batches, 1);
    } finally {
      reading = false;
      await reader;
    }
  });

  it('replaces an existing _id on insert, after every earlier batch, and replays idempotently', async () => {
    const db = uniqueDbName('txndup');
    const coll = d.source.db(db).collection<AnyDoc>('c');
    await coll.insertOne({ _id: 'base', v: 0 });
    await d.target
      .db(db)
      .collection<AnyDoc>('c')
      .insertMany([
        { _id: 'base', v: 0 },
        { _id: 'dup', stale: true }
      ]);
    const since = await newestOplogTs(d.source);
    // Before the transaction (a CRUD batch): z comes and goes; the transaction brings it back.
    await coll.insertOne({ _id: 'z', v: 0 });
    await coll.deleteOne({ _id: 'z' });
    await inTransaction(d.source, async session => {
      await coll.insertOne({ _id: 'dup', fresh: 1 }, { session });
      await coll.insertOne({ _id: 'z', v: 1 }, { session });
      await coll.updateOne({ _id: 'dup' }, { $set: { n: 1 } }, { session });
      await coll.updateOne({ _id: 'base' }, { $inc: { v: 1 } }, { session });
      await coll.deleteOne({ _id: 'base' }, { session });
    });
    const plain = (await readOplog(d.source, db, since)).filter(e => e.opIndex === undefined);
    const transaction = await sourceTransaction(d.source, since);
    const { applied } = await applyAll(d, [...toBatches(plain, 100), transaction]);
    await assertSameCollection(d, db, 'c');
    const event = applied.at(-1)!;
    assert.equal(event.kind, 'txn');
    assert.deepEqual(
      [event.inserts, event.upserts, event.updates, event.deletes, event.conflicts],
      [2, 1, 2, 1, 0]
    );

    // Replayed during catch-up (a restart from an older checkpoint): both inserts hit an
    // existing _id now, and the update and delete of the deleted document miss, as expected.
    const replay = await applyAll(d, [transaction], { catchUpUntil: transaction.lastOptime });
    await assertSameCollection(d, db, 'c');
    const again = replay.applied[0]!;
    assert.deepEqual([again.upserts, again.expectedMissing, again.conflicts], [2, 2, 0]);
  });

  describe('conflicts', () => {
    /** A transaction that updates `x`, which the target misses, and `keep`, and inserts `y`. */
    async function missingInTransaction() {
      const db = uniqueDbName('txnconflict');
      const coll = d.source.db(db).collection<AnyDoc>('c');
      await coll.insertOne({ _id: 'keep', v: 0 });
      await d.target.db(db).collection<AnyDoc>('c').insertOne({ _id: 'keep', v: 0 });
      await coll.insertOne({ _id: 'x', v: 1 }); // never applied to the target
      const since = await newestOplogTs(d.source);
      await inTransaction(d.source, async session => {
        await coll.updateOne({ _id: 'keep' }, { $set: { v: 1 } }, { session });
        await coll.updateOne({ _id: 'x' }, { $set: { v: 2 } }, { session });
        await coll.insertOne({ _id: 'y', v: 3 }, { session });
      });
      const batch = await sourceTransaction(d.source, since);
      const target = d.target.db(db).collection<AnyDoc>('c');
      const ids = async () =>
        (await target.find({}, { sort: { _id: 1 } }).toArray()).map(doc => `${doc._id}:${doc.v}`);
      return { db, batch, ids };
    }

    it('ignore: commits the rest, counts the miss, emits one conflict', async () => {
      const { db, batch, ids } = await missingInTransaction();
      const { conflicts, applied } = await applyAll(d, [batch], { conflictPolicy: 'ignore' });
      assert.deepEqual(
        conflicts.map(c => [
          c.namespace,
          c.op,
          c.idType,
          c.action,
          c.optime.equals(batch.lastOptime)
        ]),
        [[`${db}.c`, 'u', 'string', 'ignored', true]]
      );
      assert.equal(applied[0]!.conflicts, 1);
      assert.deepEqual(await ids(), ['keep:1', 'y:3']);
    });

    it('upsert: copies the missing document from the source inside the transaction', async () => {
      const { db, batch } = await missingInTransaction();
      const { conflicts } = await applyAll(d, [batch], {
        conflictPolicy: 'upsert',
        source: d.source
      });
      assert.deepEqual(
        conflicts.map(c => c.action),
        ['upserted']
      );
      await assertSameCollection(d, db, 'c');
    });

    it('fail: stops with ApplyConflictError and writes nothing of the transaction', async () => {
      const { db, batch, ids } = await missingInTransaction();
      const input = new BoundedQueue<ApplyBatch>(10, Infinity);
      await input.push(batch, 0);
      const pool = new HashedApplierPool({ input, target: d.target, conflictPolicy: 'fail' });
      const conflicts: ApplierConflictEvent[] = [];
      const applied: AppliedBatchEvent[] = [];
      pool.on('conflict', e => conflicts.push(e));
      pool.on('applied', e => applied.push(e));
      await pool.start();
      const error = await failureOf(pool);
      assert.ok(error instanceof ApplyConflictError, String(error));
      assert.equal(error.namespace, `${db}.c`);
      assert.ok(error.optime?.equals(batch.lastOptime));
      assert.deepEqual(
        conflicts.map(c => c.action),
        ['failed']
      );
      assert.deepEqual(applied, []);
      assert.deepEqual(
        await ids(),
        ['keep:0'],
        'the update of keep and the insert of y rolled back'
      );
    });

    it('before catchUpUntil a miss is expected: counted, no event', async () => {
      const { batch, ids } = await missingInTransaction();
      const { conflicts, applied } = await applyAll(d, [batch], {
        conflictPolicy: 'fail',
        catchUpUntil: batch.lastOptime
      });
      assert.deepEqual(conflicts, []);
      assert.deepEqual([applied[0]!.expectedMissing, applied[0]!.conflicts], [1, 0]);
      assert.deepEqual(await ids(), ['keep:1', 'y:3']);
    });

    it('a transient commit failure reruns the transaction; counts and events are not doubled', async () => {
      const { batch, ids } = await missingInTransaction();
      const appName = `txn-retry-${process.pid}`;
      const target = new Client(d.targetUri, { appName, monitorCommands: true });
      await target.connect();
      try {
        await target.db('admin').command({
          configureFailPoint: 'failCommand',
          mode: { times: 1 },
          data: {
            failCommands: ['commitTransaction'],
            errorCode: 112,
            errorLabels: ['TransientTransactionError'],
            appName
          }
        });
        const input = new BoundedQueue<ApplyBatch>(10, Infinity);
        await input.push(batch, 0);
        input.close();
        const pool = new HashedApplierPool({ input, target });
        const conflicts: ApplierConflictEvent[] = [];
        const applied: AppliedBatchEvent[] = [];
        const commits: string[] = [];
        target.on('commandStarted', e => {
          if (e.commandName === 'commitTransaction') commits.push(e.commandName);
        });
        pool.on('conflict', e => conflicts.push(e));
        pool.on('applied', e => applied.push(e));
        await pool.start();
        await withTimeout(pool.done, 20_000, 'the pool to finish');
        assert.equal(commits.length, 2, 'the first commit failed, the rerun committed');
        assert.equal(conflicts.length, 1);
        assert.deepEqual(
          [applied[0]!.updates, applied[0]!.inserts, applied[0]!.conflicts],
          [2, 1, 1]
        );
        assert.deepEqual(await ids(), ['keep:1', 'y:3']);
      } finally {
        await target.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
        await target.close();
      }
    });
  });
});
