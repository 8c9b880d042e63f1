/**
 * Where the source stands now: the optime replication starts from when no checkpoint says
 * otherwise (mode `incr` with `startAt: 'latest'`, the `fullBeginTs` of mode `all`), and the
 * optime a full copy ended at (`copyEndTs`).
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { isTimestamp } from '../bson/bson-values.js';
import { SourceReadError } from '../errors.js';

/** Any collection serves a majority read that only waits; this one is the replicator's own. */
const WAIT_DB = 'mongo_replicate';
const WAIT_COLLECTION = 'fences';

/**
 * How far a restart may replay: a process that stopped after applying past its checkpoint applied
 * at most up to the source's newest optime now (`newest`). Nothing without an applied position.
 * @internal
 */
export async function replayUntil(
  lastApplied: Timestamp | undefined,
  newest: () => Promise<Timestamp>
): Promise<Timestamp | undefined> {
  return lastApplied === undefined ? undefined : newest();
}

/**
 * The source's newest optime: its newest oplog entry (`'oplog'`), or its majority-committed
 * operation time (`'operationTime'`: change streams, which may not read the oplog, and a
 * mongos, which has none).
 * @throws {@link SourceReadError} when the source has no oplog or reports no operation time
 * @internal
 */
export async function newestSourceOptime(
  source: MongoClient,
  from: 'oplog' | 'operationTime'
): Promise<Timestamp> {
  if (from === 'operationTime') return majorityOperationTime(source);
  const [newest] = await source
    .db('local')
    .collection('oplog.rs')
    .find({}, { sort: { $natural: -1 }, limit: 1, projection: { ts: 1 } })
    .toArray();
  if (!newest) {
    throw new SourceReadError('The source has an empty oplog', false, {
      hint: 'The source must be a replica set member with an oplog (local.oplog.rs)'
    });
  }
  return newest.ts as Timestamp;
}

/**
 * The source's latest optime without reading the oplog, once every write up to it is
 * majority-committed. The operation time may be ahead of writes still committing with earlier
 * optimes (oplog holes): a copy read before they land would miss them, and so would a stream
 * starting after that optime. A majority read after it waits them out.
 * @internal
 */
export async function majorityOperationTime(source: MongoClient): Promise<Timestamp> {
  const reply = await source.db('admin').command({ ping: 1 });
  const ts: unknown = reply.operationTime;
  if (!isTimestamp(ts)) {
    throw new SourceReadError('The source reported no operationTime', false, {
      hint: 'Change streams need a replica set source, not a standalone mongod'
    });
  }
  const session = source.startSession({ causalConsistency: true });
  try {
    session.advanceOperationTime(ts);
    await source
      .db(WAIT_DB)
      .collection(WAIT_COLLECTION)
      .findOne({}, { session, readConcern: { level: 'majority' }, projection: { _id: 1 } });
  } finally {
    await session.endSession();
  }
  return ts;
}
