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
