import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Double, Int32, Long, MongoClient, Timestamp } from 'mongodb';

import { OplogStartMissingError, SourceReadError } from '../../src/errors.js';
import {
  ChangeStreamFetcher,
  type ChangeStreamFetcherOptions,
  type SkippedChangeEvent
} from '../../src/fetch/change-stream-fetcher.js';
import { unwrapApplyOps } from '../../src/oplog/transactions.js';
import { type FetchedEntry } from '../../src/pipeline/pipeline-items.js';
import { startTestServer } from '../server/server.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { timeoutSignal, withTimeout } from '../support/timeout-signal.js';

const FAST_RETRY = { minDelayMs: 10, maxDelayMs: 50, jitter: false, maxRetryTimeMs: 5_000 };

/** The next `n` fetched entries touching database `db` (others are passed over). */
async function take(fetcher: ChangeStreamFetcher, db: string, n: number): Promise<FetchedEntry[]> {
  const signal = timeoutSignal(15_000, `${n} entries on ${db}`);
  const out: FetchedEntry[] = [];
  while (out.length < n) {
    const item = await fetcher.output.shift(signal);
    if (item === undefined) throw new Error(`output closed after ${out.length} entries`);
    const { entry } = item;
    const inner =
      entry.op === 'c' && entry.command === 'applyOps' ? unwrapApplyOps(entry) : [entry];
    if (inner.some(op => op.ns.startsWith(`${db}.`))) out.push(item);
  }
  return out;
}

/** The source's current operation time: a start point after everything written so far. */
async function now(client: MongoClient): Promise<Timestamp> {
  const reply = await client.db('admin').command({ ping: 1 });
  return reply.operationTime as Timestamp;
}

describe('ChangeStreamFetcher', () => {
  let env: Deployments;
  const fetchers: ChangeStreamFetcher[] = [];

  before(async () => {
    env = await startDeployments();
  });
  after(async () => {
    await Promise.allSettled(fetchers.map(fetcher => fetcher.stop()));
    await env.close();
  });

  async function started(options: Omit<ChangeStreamFetcherOptions, 'source'>) {
    const fetcher = new ChangeStreamFetcher({
      source: env.source,
      maxAwaitTimeMS: 50,
      retry: FAST_RETRY,
      ...options
    });
    fetchers.push(fetcher);
    await fetcher.start();
    return fetcher;
  }

  it('delivers each write as an oplog entry with exact types and a resume token', async () => {
    const db = uniqueDbName('csf');
    const coll = env.source.db(db).collection('docs');
    const fetcher = await started({ start: await now(env.source) });
    await coll.insertOne({
      _id: 1 as unknown as never,
      i: new Int32(1),
      d: new Double(1),
      l: Long.fromNumber(1)
    });
    await coll.updateOne(
      { _id: 1 as unknown as never },
      { $set: { i: new Int32(2) }, $unset: { d: '' } }
    );
    await coll.replaceOne({ _id: 1 as unknown as never }, { only: true });
    await coll.deleteOne({ _id: 1 as unknown as never });
    // The collection's create comes first.
    const [create, insert, update, replace, remove] = await take(fetcher, db, 5);
    assert.equal(create!.entry.op, 'c');
    assert.equal(insert!.entry.op, 'i');
    const inserted = insert!.entry.o;
    assert.ok(
      inserted.i instanceof Int32 && inserted.d instanceof Double && inserted.l instanceof Long
    );
    assert.equal(update!.entry.op, 'u');
    assert.equal(update!.entry.op === 'u' && update!.entry.kind, 'diff');
    assert.equal(replace!.entry.op === 'u' && replace!.entry.kind, 'replacement');
    assert.deepEqual(replace!.entry.o, { _id: new Int32(1), only: true });
    assert.equal(remove!.entry.op, 'd');
    const optimes = [create, insert, update, replace, remove].map(item => item!.entry.ts);
    for (let i = 1; i < optimes.length; i++) assert.ok(optimes[i - 1]!.lessThan(optimes[i]!));
    for (const item of [create, insert, update, replace, remove]) {
      assert.equal(typeof item!.resumeToken?._data, 'string');
    }
  });

  it('delivers a transaction as one applyOps entry with its session', async () => {
    const db = uniqueDbName('csf_txn');
    const coll = env.source.db(db).collection('t');
    await coll.insertOne({ _id: 0 as unknown as never });
    const fetcher = await started({ start: await now(env.source), batchSize: 2 });
    const session = env.source.startSession();
    try {
      await session.withTransaction(async () => {
        for (let i = 1; i <= 5; i++)
          await coll.insertOne({ _id: i as unknown as never }, { session });
      });
    } finally {
      await session.endSession();
    }
    await coll.insertOne({ _id: 6 as unknown as never });
    // A batch size of 2 splits the transaction's five events over three getMores.
    const [txn, single] = await take(fetcher, db, 2);
    assert.equal(txn!.entry.op, 'c');
    assert.ok(txn!.entry.op === 'c' && txn!.entry.command === 'applyOps');
    assert.ok(txn!.entry.lsid !== undefined && txn!.entry.txnNumber !== undefined);
    const ops = unwrapApplyOps(txn!.entry as Parameters<typeof unwrapApplyOps>[0]);
    assert.deepEqual(
      ops.map(op => Number(op.o._id)),
      [1, 2, 3, 4, 5]
    );
    assert.equal(single!.entry.op, 'i');
  });

  it('restarts right after a resume token, and right after a start optime', async () => {
    const db = uniqueDbName('csf_resume');
    const coll = env.source.db(db).collection('r');
    const begin = await now(env.source);
    for (let i = 1; i <= 4; i++) await coll.insertOne({ _id: i as unknown as never });
    const first = await started({ start: begin });
    const all = await take(first, db, 5); // create + 4 inserts
    await first.stop();
    const byToken = await started({ start: all[2]!.entry.ts, resumeToken: all[2]!.resumeToken! });
    const [next] = await take(byToken, db, 1);
    assert.equal(Number(next!.entry.o._id), 3);
    await byToken.stop();
    const byOptime = await started({ start: all[3]!.entry.ts });
    const [after3] = await take(byOptime, db, 1);
    assert.equal(Number(after3!.entry.o._id), 4);
  });

  it('moves its resume point forward on a stream with nothing to replicate', async () => {
    const start = await now(env.source);
    const fetcher = await started({ start });
    // The admin database is never part of a change stream: the server only advances its
    // post-batch resume token past these writes.
    const quiet = env.source.db('admin').collection(uniqueDbName('quiet'));
    await quiet.insertOne({ n: 1 });
    await quiet.drop();
    const item = await fetcher.output.shift(timeoutSignal(15_000, 'a progress entry'));
    assert.ok(item !== undefined);
    assert.equal(item.entry.op, 'n');
    assert.ok(start.lessThan(item.entry.ts), 'the progress entry is after the start point');
    assert.equal(typeof item.resumeToken?._data, 'string');
    await fetcher.stop();
    // Resuming from that token reads the next real change.
    const db = uniqueDbName('csf_quiet');
    const resumed = await started({ start: item.entry.ts, resumeToken: item.resumeToken! });
    await env.source
      .db(db)
      .collection('x')
      .insertOne({ _id: 1 as unknown as never });
    const [create, insert] = await take(resumed, db, 2);
    assert.equal(create!.entry.op, 'c');
    assert.equal(insert!.entry.op, 'i');
  });

  it('fails with OplogStartMissingError when the start left the source history', async () => {
    const fetcher = new ChangeStreamFetcher({
      source: env.source,
      start: new Timestamp({ t: 1, i: 1 }),
      retry: FAST_RETRY
    });
    await assert.rejects(fetcher.start(), (error: unknown) => {
      assert.ok(error instanceof OplogStartMissingError, String(error));
      assert.match(error.message, /change stream history/);
      return true;
    });
  });

  it('refuses a source older than MongoDB 6.0 with a clear error', async () => {
    const server = await startTestServer({ version: '5.0', replSetName: 'old' });
    const client = new MongoClient(server.uri);
    try {
      await client.connect();
      const fetcher = new ChangeStreamFetcher({
        source: client,
        start: 'latest',
        retry: FAST_RETRY
      });
      await assert.rejects(fetcher.start(), (error: unknown) => {
        assert.ok(error instanceof SourceReadError);
        assert.match(error.message, /6\.0 or newer/);
        return true;
      });
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('on 6.0, applies an update with ambiguous paths as a replacement and reports one it cannot', async () => {
    const server = await startTestServer({ version: '6.0', replSetName: 'six' });
    const client = new MongoClient(server.uri);
    try {
      await client.connect();
      const db = uniqueDbName('csf_six');
      const coll = client.db(db).collection('s');
      await coll.insertMany([
        { _id: 1 as unknown as never, a: [1, 2, 3] },
        { _id: 2 as unknown as never, a: [1, 2, 3] }
      ]);
      const fetcher = new ChangeStreamFetcher({
        source: client,
        start: await now(client),
        maxAwaitTimeMS: 50
      });
      const skipped: SkippedChangeEvent[] = [];
      fetcher.on('skipped', event => skipped.push(event));
      fetchers.push(fetcher);
      // Both updates are read after the second document is gone: its lookup finds nothing.
      await coll.updateOne({ _id: 1 as unknown as never }, { $set: { 'a.1': 20 } });
      await coll.updateOne({ _id: 2 as unknown as never }, { $set: { 'a.1': 20 } });
      await coll.deleteOne({ _id: 2 as unknown as never });
      await fetcher.start();
      const [replaced, noop, removed] = await withTimeout(
        (async () => {
          const items: FetchedEntry[] = [];
          const signal = timeoutSignal(15_000, 'three entries');
          while (items.length < 3) {
            const item = await fetcher.output.shift(signal);
            if (item === undefined) throw new Error('output closed');
            items.push(item);
          }
          return items;
        })(),
        20_000,
        'entries'
      );
      assert.equal(replaced!.entry.op === 'u' && replaced!.entry.kind, 'replacement');
      assert.deepEqual(replaced!.entry.o, {
        _id: new Int32(1),
        a: [new Int32(1), new Int32(20), new Int32(3)]
      });
      assert.equal(noop!.entry.op, 'n');
      assert.equal(skipped.length, 1);
      assert.equal(skipped[0]!.operationType, 'update');
      assert.equal(skipped[0]!.namespace, `${db}.s`);
      assert.equal(removed!.entry.op, 'd');
      await fetcher.stop();
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
