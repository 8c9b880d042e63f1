/**
 * The source's sharding, replayed on a sharded target (`targetSharding: 'source'`): which
 * collections are sharded, on which key, read from the source mongos's `config.collections`, and
 * `shardCollection` on the target mongos for each one the copy creates.
 */
import { type Document, type MongoClient, MongoServerError } from 'mongodb';

import { isDocument } from '../oplog/oplog-entry.js';

/**
 * A sharded collection's key, as `config.collections` holds it.
 * @internal
 */
export interface ShardingSpec {
  /** The shard key pattern (`{region: 1, _id: 'hashed'}`). */
  readonly key: Document;
  /** Whether the shard key index is unique. */
  readonly unique: boolean;
}

/**
 * The sharded collections of the cluster behind `mongos`, by namespace (`config.*` left out:
 * the cluster's own).
 * @internal
 */
export async function readShardedCollections(
  mongos: MongoClient
): Promise<Map<string, ShardingSpec>> {
  const docs = await mongos
    .db('config')
    .collection<{ _id: string; key?: unknown; unique?: unknown; dropped?: unknown }>('collections')
    .find({})
    .toArray();
  const specs = new Map<string, ShardingSpec>();
  for (const doc of docs) {
    // 4.4 keeps dropped collections' entries, marked `dropped`.
    if (doc.dropped === true || doc._id.startsWith('config.') || !isDocument(doc.key)) continue;
    specs.set(doc._id, { key: doc.key, unique: doc.unique === true });
  }
  return specs;
}

/** `enableSharding` on a database that has it already: 4.4–5.0 answer AlreadyInitialized. */
const ALREADY_INITIALIZED = 23;

/**
 * Shards `namespace` on the target as `spec` says; creates the collection if it does not exist
 * yet. Sharding a collection already sharded on the same key succeeds (MongoDB answers so); on
 * another key the target's error is thrown.
 * @internal
 */
export async function shardTargetCollection(
  target: MongoClient,
  namespace: string,
  spec: ShardingSpec,
  beforeWrite: () => void
): Promise<void> {
  const admin = target.db('admin');
  const db = namespace.slice(0, namespace.indexOf('.'));
  beforeWrite();
  // Needed before 6.0, accepted (and a no-op) since.
  await admin.command({ enableSharding: db }).catch((error: unknown) => {
    if (!(error instanceof MongoServerError && error.code === ALREADY_INITIALIZED)) throw error;
  });
  beforeWrite();
  await admin.command({
    shardCollection: namespace,
    key: spec.key,
    ...(spec.unique ? { unique: true } : {}),
    // Required when the collection has a default collation; accepted when it has none.
    collation: { locale: 'simple' }
  });
}
