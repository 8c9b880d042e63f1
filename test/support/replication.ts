/** Helpers for tests, examples and benchmarks that replicate and then compare source and target. */
import { type MongoClient } from 'mongodb';

import { type Replicator } from '../../src/replicator.js';
import { newestOplogTs } from '../server/support.js';

/** The documents of a collection as hex-encoded raw BSON in `_id` order (types and order kept). */
export async function rawDocuments(
  client: MongoClient,
  db: string,
  coll: string
): Promise<string[]> {
  const docs = (await client
    .db(db)
    .collection(coll)
    .find({}, { sort: { _id: 1 }, raw: true })
    .toArray()) as unknown as Buffer[];
  return docs.map(doc => Buffer.from(doc).toString('hex'));
}

/** Resolves once `replicator` has applied everything the source had written when called. */
export async function waitCaughtUp(
  replicator: Replicator,
  source: MongoClient,
  signal?: AbortSignal
): Promise<void> {
  const until = await newestOplogTs(source);
  const reached = () =>
    replicator.appliedOptime !== undefined && !replicator.appliedOptime.lessThan(until);
  if (reached()) return;
  await replicator.waitFor('batch', { filter: () => reached(), ...(signal ? { signal } : {}) });
}

/**
 * Writes a marker document into `db.coll` on the source and resolves once `replicator` has
 * applied it. Unlike {@link waitCaughtUp} it does not read the oplog, so it also suits change
 * streams (which never see oplog entries outside user namespaces, such as periodic no-ops).
 */
export async function waitAppliedMarker(
  replicator: Replicator,
  source: MongoClient,
  db: string,
  coll: string,
  signal?: AbortSignal
): Promise<void> {
  const session = source.startSession();
  let until;
  try {
    await source
      .db(db)
      .collection<{ _id: string }>(coll)
      .updateOne({ _id: 'marker' }, { $inc: { seen: 1 } }, { upsert: true, session });
    until = session.operationTime;
  } finally {
    await session.endSession();
  }
  if (until === undefined) throw new Error('the source reported no operationTime for the marker');
  const target = until;
  const reached = () =>
    replicator.appliedOptime !== undefined && !replicator.appliedOptime.lessThan(target);
  if (reached()) return;
  await replicator.waitFor('batch', { filter: () => reached(), ...(signal ? { signal } : {}) });
}
