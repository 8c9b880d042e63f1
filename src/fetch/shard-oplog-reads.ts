/**
 * Reads of a shard's oplog that the sharded fetcher makes besides tailing it: the newest entry
 * (where "now" is on a shard: the cluster's "now" is the oldest of those), and whether a shard
 * holds writes up to some optime (a shard that joined the cluster while it was not being read).
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { isTimestamp } from '../bson/bson-values.js';
import { SourceReadError } from '../errors.js';
import { compareOptimes } from '../oplog/oplog-entry.js';
import { startBeforeOpenTransactionsOnAll } from './open-transactions.js';
import { listSourceShards, type SourceShard } from './source-shards.js';

const SYSTEM_NAMESPACES = /^(admin|config|local)\./;

/** The newest entry of a shard's oplog. */
async function newestEntry(shard: MongoClient, signal?: AbortSignal): Promise<Timestamp> {
  const [doc] = await shard
    .db('local')
    .collection('oplog.rs')
    .find(
      {},
      { sort: { $natural: -1 }, limit: 1, projection: { ts: 1 }, ...(signal ? { signal } : {}) }
    )
    .toArray();
  const ts: unknown = doc?.ts;
  if (!isTimestamp(ts)) {
    throw new SourceReadError('A shard has an empty oplog', false, {
      hint: 'Every shard must be a replica set with an oplog (local.oplog.rs)'
    });
  }
  return ts;
}

/**
 * "Now" for reading every shard's oplog: the oldest of the shards' newest entries. Any write a
 * shard logs later is newer than its own newest entry, so none falls at or before this optime
 * (a cluster time read on the mongos can be ahead of a shard that has not heard of it yet).
 * @internal
 */
export async function oldestNewestOptime(
  shards: readonly MongoClient[],
  signal?: AbortSignal
): Promise<Timestamp> {
  const newest = await Promise.all(shards.map(shard => newestEntry(shard, signal)));
  return newest.reduce((min, ts) => (compareOptimes(ts, min) < 0 ? ts : min));
}

/**
 * Where to start reading the cluster behind `mongos` now (mode `all`'s copy begins there):
 * {@link oldestNewestOptime}, moved back until no transaction is open at it on any shard, so
 * that every transaction whose decision comes later is read whole from there. Clients are made
 * for the occasion (and closed).
 * @internal
 */
export async function clusterOplogTime(
  mongos: MongoClient,
  connectShard: (shard: SourceShard) => MongoClient,
  signal?: AbortSignal
): Promise<Timestamp> {
  const clients = (await listSourceShards(mongos, signal)).map(connectShard);
  try {
    const at = await oldestNewestOptime(clients, signal);
    return await startBeforeOpenTransactionsOnAll(clients, at, signal);
  } finally {
    await Promise.allSettled(clients.map(client => client.close()));
  }
}

/**
 * The optime of a write (not a no-op, not a migration's, not of `admin`, `config` or `local`;
 * a transaction's counts) the shard logged at or before `through`, if any.
 * @internal
 */
export async function firstWriteThrough(
  shard: MongoClient,
  through: Timestamp,
  signal?: AbortSignal
): Promise<Timestamp | undefined> {
  const doc = await shard
    .db('local')
    .collection('oplog.rs')
    .findOne(
      {
        ts: { $lte: through },
        fromMigrate: { $ne: true },
        $or: [
          { op: { $in: ['i', 'u', 'd', 'c'] }, ns: { $not: SYSTEM_NAMESPACES } },
          // Transactions are logged on admin.$cmd.
          { op: 'c', 'o.applyOps': { $exists: true } }
        ]
      },
      { projection: { ts: 1 }, ...(signal ? { signal } : {}) }
    );
  const ts: unknown = doc?.ts;
  return isTimestamp(ts) ? ts : undefined;
}
