/**
 * Transactions open at a shard's start point. A transaction's entries are applied only once its
 * decision is read, so a merge of shards that starts after some of a transaction's entries and
 * before its decision could not apply it: the start moves back before the transaction began.
 *
 * This happens to a checkpoint taken between the commits of a cross-shard transaction's
 * participants (the first commit applied the whole transaction; the next shard's commit comes
 * after the checkpoint, its prepare before it), and to a new start while a transaction is
 * prepared. Re-reading the entries in between is safe: applying them is idempotent.
 */
import { type Document, type MongoClient, Timestamp } from 'mongodb';

import { isTimestamp } from '../bson/bson-values.js';
import { compareOptimes } from '../oplog/oplog-entry.js';
import { transactionKey } from '../oplog/transactions.js';
import { justBefore } from '../pipeline/resume-token.js';

/**
 * How far back a shard's oplog is searched for transactions still open at the start point.
 * mongod aborts an unprepared transaction after `transactionLifetimeLimitSeconds` (60 s); a
 * prepared one waits for its coordinator, which decides within seconds unless a shard is down.
 * @internal
 */
export const OPEN_TRANSACTION_WINDOW_SECONDS = 600;

/** Rounds of moving a start point back before the transactions open at it. */
const MOST_ROUNDS = 16;

/**
 * The optime to start every one of `shards` after so that every transaction open there is read
 * whole: `at`, moved back before the transactions open at it on any shard, again until none is
 * (a transaction open at the earlier point but decided before `at` is found by the next round).
 * @internal
 */
export async function startBeforeOpenTransactionsOnAll(
  shards: readonly MongoClient[],
  at: Timestamp,
  signal?: AbortSignal
): Promise<Timestamp> {
  let start = at;
  for (let round = 0; round < MOST_ROUNDS; round++) {
    const starts = await Promise.all(
      shards.map(shard => startBeforeOpenTransactions(shard, start, signal))
    );
    const earliest = starts.reduce((min, ts) => (compareOptimes(ts, min) < 0 ? ts : min), start);
    if (compareOptimes(earliest, start) === 0) return start;
    start = earliest;
  }
  return start;
}

/**
 * The optime to start `shard`'s oplog after so that every transaction open at `at` is read
 * whole: just before the first entry of the oldest open one, or `at` when none is open.
 */
async function startBeforeOpenTransactions(
  shard: MongoClient,
  at: Timestamp,
  signal?: AbortSignal
): Promise<Timestamp> {
  const oplog = shard.db('local').collection('oplog.rs');
  const options = signal === undefined ? {} : { signal };
  const windowStart = new Timestamp({
    t: Math.max(0, at.t - OPEN_TRANSACTION_WINDOW_SECONDS),
    i: 0
  });
  const steps = await oplog
    .find(
      {
        ts: { $gte: windowStart, $lte: at },
        op: 'c',
        lsid: { $exists: true },
        $or: [{ 'o.partialTxn': true }, { 'o.prepare': true }]
      },
      { ...options, projection: { ts: 1, lsid: 1, txnNumber: 1 } }
    )
    .toArray();
  // The last step of each transaction seen in the window.
  const latest = new Map<string, Document>();
  for (const step of steps) latest.set(transactionKey(step.lsid, step.txnNumber), step);
  let start = at;
  for (const step of latest.values()) {
    const { lsid, txnNumber } = step;
    const decided = await oplog.findOne(
      { ts: { $gt: step.ts as Timestamp, $lte: at }, lsid, txnNumber },
      { ...options, projection: { ts: 1 } }
    );
    if (decided !== null) continue;
    const first = await oplog.findOne(
      { ts: { $gte: windowStart, $lte: step.ts as Timestamp }, op: 'c', lsid, txnNumber },
      { ...options, sort: { ts: 1 }, projection: { ts: 1 } }
    );
    const firstTs: unknown = first?.ts;
    if (isTimestamp(firstTs) && compareOptimes(justBefore(firstTs), start) < 0) {
      start = justBefore(firstTs);
    }
  }
  return start;
}
