/**
 * A sharded source for integration tests: a test server cluster (two shards behind a mongos,
 * the balancer on), or a real mongos when MONGO_REPLICATE_TEST_SHARDED_SOURCE_URI is set. Tests
 * talk to it through the driver only.
 */
import { type Document, Int32, MongoClient } from 'mongodb';

import { startTestServer } from '../server/server.js';

export interface ShardedSource {
  readonly uri: string;
  /** A client of the mongos, for workloads and assertions. */
  readonly client: MongoClient;
  /** The shard names (`listShards`), for moving chunks. */
  readonly shards: readonly string[];
  close(): Promise<void>;
}

/** Starts (or connects to) a sharded cluster. */
export async function startShardedSource(): Promise<ShardedSource> {
  const real = process.env.MONGO_REPLICATE_TEST_SHARDED_SOURCE_URI;
  const cluster = real
    ? undefined
    : await startTestServer({ shards: 2, balancer: true, balancerIntervalMs: 200 });
  const uri = real ?? cluster!.uri;
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  const { shards } = await client.db('admin').command({ listShards: 1 });
  return {
    uri,
    client,
    shards: (shards as { _id: string }[]).map(shard => shard._id),
    async close() {
      await client.close();
      await cluster?.stop();
    }
  };
}

/**
 * Shards `db.alpha` on a hashed `_id` and `db.beta` on ranges of `_id`, split at 20 so that both
 * shards can hold part of it.
 */
export async function shardAlphaAndBeta(sharded: ShardedSource, db: string): Promise<void> {
  const admin = sharded.client.db('admin');
  await admin.command({ enableSharding: db });
  await admin.command({ shardCollection: `${db}.alpha`, key: { _id: 'hashed' } });
  await admin.command({ shardCollection: `${db}.beta`, key: { _id: 1 } });
  await admin
    .command({ split: `${db}.beta`, middle: { _id: new Int32(20) } })
    .catch(() => undefined);
}

/**
 * Moves a random chunk of one of `namespaces` to another shard; false when there is none. The
 * balancer moves chunks too: one it moved between our read and our command is read again.
 */
export async function moveRandomChunk(
  sharded: ShardedSource,
  namespaces: readonly string[],
  random: () => number,
  attempt = 1
): Promise<boolean> {
  const config = sharded.client.db('config');
  // Chunks name their collection by `ns` before MongoDB 5.0, by its `uuid` since.
  const collections = await config
    .collection<{ _id: string; uuid?: { toHexString(): string } }>('collections')
    .find({ _id: { $in: [...namespaces] } })
    .toArray();
  const nsOfUuid = new Map(
    collections.flatMap(c => (c.uuid ? [[c.uuid.toHexString(), c._id] as const] : []))
  );
  interface Chunk {
    ns?: string;
    uuid?: { toHexString(): string };
    shard: string;
    min: Document;
    max: Document;
  }
  const all = await config.collection<Chunk>('chunks').find({}).toArray();
  const chunks = all.flatMap(chunk => {
    const ns =
      typeof chunk.ns === 'string' ? chunk.ns : nsOfUuid.get(chunk.uuid?.toHexString() ?? '');
    return ns !== undefined && namespaces.includes(ns) ? [{ ...chunk, ns }] : [];
  });
  const chunk = chunks[Math.floor(random() * chunks.length)];
  if (chunk === undefined) return false;
  const to = sharded.shards.find(shard => shard !== chunk.shard);
  try {
    await sharded.client
      .db('admin')
      .command({ moveChunk: chunk.ns, bounds: [chunk.min, chunk.max], to });
  } catch (error) {
    if (attempt >= 5) throw error;
    return moveRandomChunk(sharded, namespaces, random, attempt + 1);
  }
  return true;
}

/** A sharded cluster as a target: a test server cluster, or MONGO_REPLICATE_TEST_SHARDED_TARGET_URI. */
export async function startShardedTarget(): Promise<{
  readonly uri: string;
  readonly client: MongoClient;
  close(): Promise<void>;
}> {
  const real = process.env.MONGO_REPLICATE_TEST_SHARDED_TARGET_URI;
  const cluster = real ? undefined : await startTestServer({ shards: 2 });
  const uri = real ?? cluster!.uri;
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  return {
    uri,
    client,
    async close() {
      await client.close();
      await cluster?.stop();
    }
  };
}

/**
 * A replica set to add to a sharded cluster as a new shard (`addShard` takes the returned
 * `rs/host` string): a test server, or MONGO_REPLICATE_TEST_SPARE_SHARD (`rs/host:port`, a replica
 * set the real cluster can add) when the sharded source is a real one.
 */
export async function startSpareShard(
  name: string
): Promise<{ readonly spec: string; stop(): Promise<void> }> {
  if (process.env.MONGO_REPLICATE_TEST_SHARDED_SOURCE_URI) {
    const spec = process.env.MONGO_REPLICATE_TEST_SPARE_SHARD;
    if (!spec) {
      throw new Error(
        'With MONGO_REPLICATE_TEST_SHARDED_SOURCE_URI set, MONGO_REPLICATE_TEST_SPARE_SHARD must name a replica set the cluster can add (rs/host:port)'
      );
    }
    return { spec, stop: () => Promise.resolve() };
  }
  const server = await startTestServer({ replSetName: name });
  return { spec: `${name}/${server.mongod.host}`, stop: () => server.stop() };
}
