/**
 * A sharded source for integration tests: a test server cluster (two shards behind a mongos,
 * the balancer on), or a real mongos when MONGO_REPLICATE_TEST_SHARDED_SOURCE_URI is set. Tests
 * talk to it through the driver only.
 */
import { MongoClient } from 'mongodb';

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
