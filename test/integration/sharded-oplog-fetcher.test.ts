/**
 * ShardedOplogFetcher against a two-shard cluster (or a real one, see sharded-source.ts): every
 * shard's writes arrive once, in cluster-time order; a cross-shard transaction arrives whole with
 * one commit; and a restart from a position between its participants' commits (a checkpoint the
 * replicator can take) still delivers it whole instead of a commit without its prepare.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Document, Int32, type Timestamp } from 'mongodb';

import { ShardedOplogFetcher } from '../../src/fetch/sharded-oplog-fetcher.js';
import { shardClientFor } from '../../src/fetch/source-shards.js';
import { compareOptimes, type OplogEntry } from '../../src/oplog/oplog-entry.js';
import { TransactionAssembler } from '../../src/oplog/transactions.js';
import { majorityOperationTime } from '../../src/orchestration/source-position.js';
import { uniqueDbName } from '../support/deployments.js';
import { type ShardedSource, startShardedSource } from '../support/sharded-source.js';
import { timeoutSignal } from '../support/timeout-signal.js';

/** Reads the fetcher's output until `done(entries)` holds (or 20 s pass). */
async function collect(
  fetcher: ShardedOplogFetcher,
  done: (entries: readonly OplogEntry[]) => boolean
): Promise<OplogEntry[]> {
  const signal = timeoutSignal(20_000, 'the sharded fetcher’s entries');
  const entries: OplogEntry[] = [];
  while (!done(entries)) {
    const item = await fetcher.output.shift(signal);
    if (item === undefined) throw new Error(`output closed after ${entries.length} entries`);
    entries.push(item.entry);
  }
  return entries;
}

/** Writes of `db` the assembler releases from `entries`, as `ns:_id`. */
function appliedWrites(entries: readonly OplogEntry[], db: string): string[] {
  const assembler = new TransactionAssembler();
  return entries
    .flatMap(entry => assembler.push(entry))
    .filter(op => op.op === 'i' && op.ns.startsWith(`${db}.`))
    .map(op => `${op.ns.slice(db.length + 1)}:${String((op.o as Document)._id)}`);
}

describe('ShardedOplogFetcher', () => {
  let sharded: ShardedSource;
  before(async () => {
    sharded = await startShardedSource();
  });
  after(async () => {
    await sharded.close();
  });

  const fetcherFrom = (start: Timestamp) =>
    new ShardedOplogFetcher({
      source: sharded.client,
      start,
      connectShard: shard => shardClientFor(sharded.uri, shard),
      maxAwaitTimeMS: 100
    });

  /** A collection `db.c` sharded on `_id` with `_id < 20` on one shard and the rest on another. */
  async function twoShardCollection(db: string): Promise<void> {
    const admin = sharded.client.db('admin');
    await admin.command({ enableSharding: db });
    await admin.command({ shardCollection: `${db}.c`, key: { _id: 1 } });
    await admin.command({ split: `${db}.c`, middle: { _id: new Int32(20) } });
    const { shards } = sharded;
    const primary = (await sharded.client
      .db('config')
      .collection('databases')
      .findOne({ _id: db as never })) as { primary: string } | null;
    const other = shards.find(shard => shard !== primary?.primary) ?? shards[1];
    await admin
      .command({ moveChunk: `${db}.c`, find: { _id: new Int32(30) }, to: other })
      .catch((error: unknown) => {
        // The balancer may have moved it there already.
        if (!/already|same shard/i.test(String(error))) throw error;
      });
  }

  it('delivers every shard’s writes once, in cluster-time order', async () => {
    const db = uniqueDbName('shfetch');
    await twoShardCollection(db);
    const start = await majorityOperationTime(sharded.client);
    const coll = sharded.client.db(db).collection<{ _id: Int32 }>('c');
    for (let i = 0; i < 40; i++) await coll.insertOne({ _id: new Int32(i) });
    const fetcher = fetcherFrom(start);
    await fetcher.start();
    try {
      assert.equal(fetcher.shards.length, sharded.shards.length);
      const entries = await collect(fetcher, got => appliedWrites(got, db).length >= 40);
      for (let i = 1; i < entries.length; i++) {
        assert.ok(compareOptimes(entries[i - 1]!.ts, entries[i]!.ts) < 0, 'strictly increasing');
      }
      assert.deepEqual(
        appliedWrites(entries, db),
        Array.from({ length: 40 }, (_, i) => `c:${i}`),
        'each write once, in the order it was made'
      );
    } finally {
      await fetcher.stop();
    }
  });

  it('restarting between the commits of a cross-shard transaction delivers it whole', async () => {
    const db = uniqueDbName('shtxn');
    await twoShardCollection(db);
    const start = await majorityOperationTime(sharded.client);
    const coll = sharded.client.db(db).collection<{ _id: Int32 }>('c');
    const session = sharded.client.startSession();
    try {
      await session.withTransaction(async () => {
        await coll.insertOne({ _id: new Int32(1) }, { session });
        await coll.insertOne({ _id: new Int32(30) }, { session });
      });
    } finally {
      await session.endSession();
    }
    await coll.insertOne({ _id: new Int32(2) }); // after the transaction: where reading stops

    const first = fetcherFrom(start);
    await first.start();
    let commitTs: Timestamp;
    try {
      const entries = await collect(first, got => appliedWrites(got, db).includes('c:2'));
      const commits = entries.filter(
        entry => entry.op === 'c' && entry.command === 'commitTransaction'
      );
      assert.equal(commits.length, 1, 'one commit for the whole transaction');
      assert.deepEqual(appliedWrites(entries, db), ['c:1', 'c:30', 'c:2']);
      commitTs = commits[0]!.ts;
    } finally {
      await first.stop();
    }

    // A checkpoint right after the first commit: the other participant's prepare is before it,
    // its commit after it.
    const second = fetcherFrom(commitTs);
    await second.start();
    try {
      const entries = await collect(second, got => appliedWrites(got, db).includes('c:2'));
      const writes = appliedWrites(entries, db);
      assert.deepEqual(
        writes.filter(write => write !== 'c:1' && write !== 'c:30').at(-1),
        'c:2',
        'reading goes on after the transaction'
      );
      assert.ok(
        writes.includes('c:30') || writes.includes('c:1'),
        'the part whose commit came after the position is delivered with its prepare'
      );
      assert.ok(
        entries.some(entry => compareOptimes(entry.ts, commitTs) < 0),
        'the start moved back before the open transaction'
      );
    } finally {
      await second.stop();
    }
  });
});
