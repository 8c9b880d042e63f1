import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Double, Int32, MongoClient, Timestamp } from 'mongodb';

import { OplogStartMissingError, RetriesExhaustedError } from '../../src/errors.js';
import { type StageState } from '../../src/events.js';
import {
  type OplogBatchEvent,
  OplogFetcher,
  type OplogFetcherOptions,
  type OplogFetchLagEvent
} from '../../src/fetch/oplog-fetcher.js';
import { type OplogEntry } from '../../src/oplog/oplog-entry.js';
import { startTestServer } from '../server/server.js';
import { newestOplogTs } from '../server/support.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { waitUntil, withTimeout } from '../support/timeout-signal.js';

/** Fast retries, so fault tests do not wait out the production backoff. */
const FAST_RETRY = { minDelayMs: 10, maxDelayMs: 50, jitter: false, maxRetryTimeMs: 10_000 };

/**
 * Runs `fn` with a signal that aborts after `ms`. The timer is cleared when `fn` settles, so a
 * passing test leaves nothing behind that keeps the process alive.
 */
async function within<T>(ms: number, what: string, fn: (signal: AbortSignal) => Promise<T>) {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
    ms
  );
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

/** The next `n` entries on `ns` from the fetcher's output (other namespaces are passed over). */
function take(fetcher: OplogFetcher, ns: string, n: number): Promise<OplogEntry[]> {
  return within(15_000, `${n} entries on ${ns}`, async signal => {
    const entries: OplogEntry[] = [];
    while (entries.length < n) {
      const item = await fetcher.output.shift(signal);
      if (item === undefined) throw new Error(`output closed after ${entries.length} entries`);
      if (item.entry.ns === ns) entries.push(item.entry);
    }
    return entries;
  });
}

function insertedIds(entries: readonly OplogEntry[]): unknown[] {
  // Decoded without promotion: an int32 `_id` arrives as Int32.
  return entries.map(e => (e.op === 'i' ? Number(e.o._id) : `${e.op}?`));
}

function recordStates(fetcher: OplogFetcher): StageState[] {
  const states: StageState[] = [];
  fetcher.on('state', event => {
    assert.equal(event.stage, 'oplog-fetcher');
    assert.equal(event.from, states.at(-1) ?? 'idle');
    states.push(event.to);
  });
  return states;
}

/** Drains `output` to its end (it closes when the fetcher ends). */
function drainOutput(fetcher: OplogFetcher): Promise<number> {
  return within(15_000, 'the output to close', async signal => {
    let count = 0;
    while ((await fetcher.output.shift(signal)) !== undefined) count += 1;
    return count;
  });
}

describe('OplogFetcher', () => {
  let deployments: Deployments;
  let database: string;
  const fetchers: OplogFetcher[] = [];
  const fetcher = (options: Partial<OplogFetcherOptions> = {}) => {
    const created = new OplogFetcher({
      source: deployments.source,
      start: 'latest',
      maxAwaitTimeMS: 200,
      retry: FAST_RETRY,
      ...options
    });
    fetchers.push(created);
    return created;
  };

  before(async () => {
    deployments = await startDeployments();
    database = uniqueDbName('fetch');
  });
  after(async () => {
    // A failing test must not leave a cursor open behind it.
    await Promise.all(fetchers.map(f => f.stop().catch(() => undefined)));
    await deployments.source.db(database).dropDatabase();
    await deployments.close();
  });

  it("starts at 'latest', delivers new writes in order with exact BSON types, and stops cleanly", async () => {
    const coll = deployments.source.db(database).collection<{ _id: number }>('types');
    await coll.insertOne({ _id: 0 }); // before the start: must not be delivered
    const tail = fetcher();
    const states = recordStates(tail);
    await tail.start();
    assert.deepEqual(states, ['starting', 'running']);
    await coll.insertOne({ _id: 1, int: new Int32(1), double: new Double(1), long: 2n } as never);
    await coll.insertMany([{ _id: 2 }, { _id: 3 }]);
    await coll.deleteOne({ _id: 2 });
    const entries = await take(tail, `${database}.types`, 4);
    assert.deepEqual(insertedIds(entries), [1, 2, 3, 'd?']);
    const first = entries[0]!;
    assert.ok(first.op === 'i');
    assert.ok(first.o.int instanceof Int32, 'an Int32 stays an Int32');
    assert.ok(first.o.double instanceof Double, 'a Double stays a Double');
    for (let i = 1; i < entries.length; i++) {
      assert.ok(entries[i - 1]!.ts.lessThan(entries[i]!.ts), 'in oplog order');
    }
    assert.ok(tail.lastFetched!.greaterThanOrEqual(entries.at(-1)!.ts), 'lastFetched is past them');

    await withTimeout(tail.stop(), 5_000, 'stop()');
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    await tail.done;
    assert.equal(await tail.output.shift(), undefined, 'output is closed and drained');
  });

  it('resumes right after a known optime (the last applied entry)', async () => {
    const coll = deployments.source.db(database).collection<{ _id: number }>('resume');
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    const [applied] = await deployments.source
      .db('local')
      .collection('oplog.rs')
      .find({ ns: `${database}.resume`, op: 'i', 'o._id': 1 })
      .toArray();
    const tail = fetcher({ start: applied!.ts as Timestamp, batchSize: 2 });
    const batches: OplogBatchEvent[] = [];
    tail.on('batch', event => batches.push(event));
    await tail.start();
    const entries = await take(tail, `${database}.resume`, 2);
    assert.deepEqual(insertedIds(entries), [2, 3]);
    assert.ok(batches.length >= 1);
    assert.ok(batches[0]!.firstOptime.greaterThan(applied!.ts as Timestamp), 'start is dropped');
    for (const batch of batches) {
      assert.equal(batch.stage, 'oplog-fetcher');
      assert.equal(batch.skippedFromMigrate, 0);
      assert.ok(batch.count >= 1 && batch.count <= 2, 'at most batchSize entries per getMore');
      assert.ok(batch.bytes > 0);
    }
    await tail.stop();
  });

  it('fails with OplogStartMissingError when the start fell off the oplog', async () => {
    const ancient = new Timestamp({ t: 1, i: 1 });
    assert.ok((await newestOplogTs(deployments.source)).greaterThan(ancient));
    const tail = fetcher({ start: ancient });
    const states = recordStates(tail);
    let emitted: unknown;
    tail.on('error', error => (emitted = error));
    const error = await tail.start().then(
      () => assert.fail('start() resolved'),
      (e: unknown) => e
    );
    assert.ok(error instanceof OplogStartMissingError, String(error));
    assert.ok(error.behindSeconds > 0);
    assert.equal(error.retryable, false);
    assert.ok(error.optime?.equals(ancient));
    assert.match(error.message, /full sync \(mode "all"\)/);
    assert.equal(emitted, error);
    await assert.rejects(tail.done, (e: unknown) => e === error);
    assert.deepEqual(states, ['starting', 'failed']);
    assert.equal(await tail.output.shift(), undefined, 'output is closed');
  });

  it('stops reading while output is full (backpressure) and resumes once it is consumed', async () => {
    const coll = deployments.source.db(database).collection<{ _id: number }>('pressure');
    const tail = fetcher({ bufferMaxEntries: 3, batchSize: 2, lagIntervalMs: 50 });
    const batches: OplogBatchEvent[] = [];
    tail.on('batch', event => batches.push(event));
    await tail.start();
    await coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i })));
    // Full: 3 entries held. The lag sampler runs on its own timer, so its events serve as a
    // clock that proves time passed without anything more being read.
    await within(10_000, 'output to fill', signal =>
      waitUntil(() => tail.output.size === 3, signal)
    );
    const stalledAt = tail.lastFetched!;
    const batchCount = batches.length;
    const lags: OplogFetchLagEvent[] = [];
    await within(10_000, 'two lag events', async signal => {
      while (lags.length < 2) lags.push((await tail.waitFor('lag', { signal }))[0]);
    });
    assert.equal(tail.output.size, 3, 'exactly bufferMaxEntries held');
    assert.equal(batches.length, batchCount, 'no batch completed while full');
    assert.ok(tail.lastFetched?.equals(stalledAt), 'the position did not move');
    for (const lag of lags) {
      assert.ok(lag.fetchedOptime.equals(stalledAt));
      assert.ok(lag.sourceOptime.greaterThan(stalledAt), 'the source is ahead');
      assert.equal(lag.seconds, lag.sourceOptime.t - stalledAt.t, 'lag is the source ahead of it');
    }
    // Consuming releases it: everything arrives, in order, exactly once.
    const entries = await take(tail, `${database}.pressure`, 20);
    assert.deepEqual(
      insertedIds(entries),
      Array.from({ length: 20 }, (_, i) => i)
    );
    assert.ok(batches.length > batchCount);
    await tail.stop();
  });

  it('re-opens after a getMore loses its connection, without loss or duplicates', async () => {
    const coll = deployments.source.db(database).collection<{ _id: number }>('failover');
    const ns = `${database}.failover`;
    const tail = fetcher({ batchSize: 3 });
    await tail.start();
    try {
      await coll.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i })));
      assert.deepEqual(insertedIds(await take(tail, ns, 5)), [0, 1, 2, 3, 4]);
      const retried = within(10_000, 'a retry event', signal => tail.waitFor('retry', { signal }));
      await deployments.source.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], closeConnection: true }
      });
      await coll.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: 5 + i })));
      const [retry] = await retried;
      assert.equal(retry.stage, 'oplog-fetcher');
      assert.equal(retry.attempt, 1);
      assert.match(retry.hint, /network|reached/i);
      await coll.insertOne({ _id: 10 });
      // The sentinel right after 5..9 proves nothing was delivered twice.
      assert.deepEqual(insertedIds(await take(tail, ns, 6)), [5, 6, 7, 8, 9, 10]);
      assert.equal(tail.state, 'running');
    } finally {
      await deployments.source
        .db('admin')
        .command({ configureFailPoint: 'failCommand', mode: 'off' });
      await tail.stop();
    }
  });

  for (const [code, name] of [
    [43, 'CursorNotFound'],
    [136, 'CappedPositionLost']
  ] as const) {
    it(`re-opens after ${name} (${code}) when the position is still in the oplog`, async () => {
      const coll = deployments.source.db(database).collection<{ _id: number }>(`lost${code}`);
      const ns = `${database}.lost${code}`;
      const tail = fetcher();
      await tail.start();
      try {
        await coll.insertOne({ _id: 1 });
        assert.deepEqual(insertedIds(await take(tail, ns, 1)), [1]);
        const retried = within(10_000, 'a retry event', signal =>
          tail.waitFor('retry', { signal })
        );
        await deployments.source.db('admin').command({
          configureFailPoint: 'failCommand',
          mode: { times: 1 },
          data: { failCommands: ['getMore'], errorCode: code }
        });
        await coll.insertMany([{ _id: 2 }, { _id: 3 }]);
        const [retry] = await retried;
        assert.equal((retry.error as { code?: unknown }).code, code);
        await coll.insertOne({ _id: 4 });
        assert.deepEqual(insertedIds(await take(tail, ns, 3)), [2, 3, 4]);
        assert.equal(tail.state, 'running');
      } finally {
        await deployments.source
          .db('admin')
          .command({ configureFailPoint: 'failCommand', mode: 'off' });
        await tail.stop();
      }
    });
  }

  it('fails with RetriesExhaustedError once the retry budget is spent', async () => {
    const tail = fetcher({ retry: { minDelayMs: 10, maxDelayMs: 20, maxRetryTimeMs: 300 } });
    await tail.start();
    const retries: number[] = [];
    tail.on('retry', event => retries.push(event.attempt));
    try {
      await deployments.source.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: 'alwaysOn',
        data: { failCommands: ['getMore', 'find'], errorCode: 91 } // ShutdownInProgress
      });
      await deployments.source
        .db(database)
        .collection('exhaust')
        .insertOne({ _id: 1 } as never);
      const error = await withTimeout(
        tail.done.then(
          () => assert.fail('done resolved'),
          (e: unknown) => e
        ),
        10_000,
        'the fetcher to give up'
      );
      assert.ok(error instanceof RetriesExhaustedError, String(error));
      assert.ok(error.attempts >= 2);
      assert.deepEqual(
        retries,
        retries.map((_, i) => i + 1),
        'one episode: attempts count up from 1'
      );
      assert.equal(tail.state, 'failed');
      await drainOutput(tail); // ends: output was closed (it may hold the insert, read before)
    } finally {
      await deployments.source
        .db('admin')
        .command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
  });

  it('ends at once on a forced abort and closes output', async () => {
    const controller = new AbortController();
    const tail = fetcher({ signal: controller.signal, maxAwaitTimeMS: 60_000 });
    const states = recordStates(tail);
    await tail.start();
    // A getMore is now waiting up to 60 s on the server; the abort must not wait for it.
    controller.abort(new Error('host shutting down'));
    await withTimeout(tail.done, 5_000, 'done after abort');
    assert.deepEqual(states, ['starting', 'running', 'stopped']);
    assert.equal(await drainOutput(tail), 0);
  });

  it('stops cleanly when stop() arrives while it is still opening', async () => {
    const tail = fetcher();
    const states = recordStates(tail);
    const starting = tail.start();
    await withTimeout(tail.stop(), 5_000, 'stop() while starting');
    await starting;
    await tail.done;
    assert.deepEqual(states, ['starting', 'stopping', 'stopped']);
    assert.equal(await tail.output.shift(), undefined, 'output is closed');
  });

  it('stops promptly while a getMore waits on the server', async () => {
    const tail = fetcher({ maxAwaitTimeMS: 60_000 });
    await tail.start();
    await withTimeout(tail.stop(), 5_000, 'stop() during a waiting getMore');
    assert.equal(tail.state, 'stopped');
  });
});

describe('OplogFetcher on a tiny oplog (test server only)', () => {
  it('ends with OplogStartMissingError when truncation removed the cursor position', async t => {
    if (process.env.MONGO_REPLICATE_TEST_SOURCE_URI) {
      t.skip('needs a 1 MiB oplog, which only the test server allows');
      return;
    }
    const server = await startTestServer({ oplogSizeMb: 1 });
    const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5_000 });
    await client.connect();
    const tail = new OplogFetcher({
      source: client,
      start: 'latest',
      batchSize: 1,
      bufferMaxEntries: 1,
      maxAwaitTimeMS: 100,
      retry: FAST_RETRY
    });
    try {
      const retries: string[] = [];
      tail.on('retry', event => retries.push(event.error.message));
      await tail.start();
      const coll = client.db('burst').collection<{ _id: number; big?: string }>('big');
      await coll.insertOne({ _id: 0 });
      // The fetcher reads a little, then waits on its full output while the burst (3 MiB into a
      // 1 MiB oplog) truncates everything it had read.
      await within(10_000, 'the fetcher to fill its output', async signal => {
        while (tail.output.size < 1) await tail.waitFor('batch', { signal });
      });
      const big = 'x'.repeat(100_000);
      for (let i = 1; i <= 30; i++) await coll.insertOne({ _id: i, big });
      // Consuming lets it read on: CappedPositionLost, one retry, then the re-open finds its
      // resume point gone.
      await drainOutput(tail);
      const error = await tail.done.then(
        () => assert.fail('done resolved'),
        (e: unknown) => e
      );
      assert.ok(error instanceof OplogStartMissingError, String(error));
      assert.ok(error.optime?.equals(tail.lastFetched!));
      assert.ok(retries.length >= 1 && retries.length <= 2, `retries: ${retries.join(' | ')}`);
      assert.match(retries[0]!, /CappedPositionLost|position in capped collection/);
      assert.equal(tail.state, 'failed');
    } finally {
      await tail.stop();
      await client.close();
      await server.stop();
    }
  });
});
