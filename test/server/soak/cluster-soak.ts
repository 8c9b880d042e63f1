/**
 * A soak of the test server's sharded cluster (`npm run soak:test-server-cluster [-- seconds]`):
 * random writes and cross-shard transactions through mongos while the balancer splits and moves
 * chunks and the range deleter removes orphans, with a cluster-wide change stream open. At the end
 * the data read through mongos must equal the workload's model, every document must live on the
 * one shard owning its chunk, and the stream must have returned every write exactly once, in
 * cluster-time order, and no migration. Not part of `npm test`.
 */
import { type Document, MongoClient, type Timestamp } from 'mongodb';

import { seededRandom } from '../../support/workload.js';
import { startTestServer } from '../server.js';

const seconds = Number(process.argv[2] ?? process.env.SOAK_SECONDS ?? 20);
const seed = Number(process.env.SOAK_SEED ?? Date.now() % 100_000);
const version = process.env.SOAK_VERSION ?? '7.0';
const random = seededRandom(seed);

function compareTs(a: Timestamp, b: Timestamp): number {
  return a.t !== b.t ? a.t - b.t : a.i - b.i;
}

const cluster = await startTestServer({
  shards: 3,
  version,
  balancer: true,
  balancerIntervalMs: 50,
  orphanCleanupDelayMs: 200,
  noopIntervalMs: 50
});
const client = new MongoClient(cluster.uri);
const failures: string[] = [];
try {
  const admin = client.db('admin');
  await admin.command({ enableSharding: 'soak', primaryShard: 'shard0' });
  await admin.command({ shardCollection: 'soak.c', key: { k: 1 } });
  const c = client.db('soak').collection<{ _id: number; k: number; n: number }>('c');
  const model = new Map<number, { _id: number; k: number; n: number }>();
  const stream = client.watch([], { fullDocument: 'default' });
  await stream.tryNext();
  const events: Document[] = [];
  let expectedEvents = 0;
  let nextId = 0;
  const deadline = Date.now() + seconds * 1000;
  let streaming = true;
  const reader = (async () => {
    while (streaming || events.length < expectedEvents) {
      const event = await stream.tryNext();
      if (event) events.push(event);
    }
  })();
  while (Date.now() < deadline) {
    const roll = random();
    const ids = [...model.keys()];
    if (roll < 0.5 || ids.length < 10) {
      const batch = Array.from({ length: 1 + Math.floor(random() * 20) }, () => {
        const id = nextId++;
        return { _id: id, k: Math.floor(random() * 10_000), n: 0 };
      });
      await c.insertMany(batch, { ordered: random() < 0.5 });
      for (const doc of batch) model.set(doc._id, doc);
      expectedEvents += batch.length;
    } else if (roll < 0.75) {
      const doc = model.get(ids[Math.floor(random() * ids.length)]!)!;
      await c.updateOne({ k: doc.k, _id: doc._id }, { $inc: { n: 1 } });
      doc.n++;
      expectedEvents++;
    } else if (roll < 0.9) {
      const doc = model.get(ids[Math.floor(random() * ids.length)]!)!;
      await c.deleteOne({ k: doc.k, _id: doc._id });
      model.delete(doc._id);
      expectedEvents++;
    } else {
      const picks = [0, 1, 2].map(() => model.get(ids[Math.floor(random() * ids.length)]!)!);
      const unique = [...new Map(picks.map(doc => [doc._id, doc])).values()];
      const session = client.startSession();
      try {
        await session.withTransaction(async () => {
          for (const doc of unique) {
            await c.updateOne({ k: doc.k, _id: doc._id }, { $inc: { n: 10 } }, { session });
          }
        });
      } finally {
        await session.endSession();
      }
      for (const doc of unique) doc.n += 10;
      expectedEvents += unique.length;
    }
  }
  await admin.command({ balancerStop: 1 });
  streaming = false;
  const readerDeadline = setTimeout(() => {
    failures.push(`the stream returned ${events.length} of ${expectedEvents} events`);
    streaming = false;
    expectedEvents = events.length;
  }, 30_000);
  await reader;
  clearTimeout(readerDeadline);
  await stream.close();

  const actual = await c.find({}).sort({ _id: 1 }).toArray();
  const expected = [...model.values()].sort((a, b) => a._id - b._id);
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    failures.push(`mongos holds ${actual.length} documents, the model ${expected.length}`);
    const byId = new Map(actual.map(doc => [doc._id, doc]));
    for (const doc of expected) {
      const found = byId.get(doc._id);
      if (JSON.stringify(found) !== JSON.stringify(doc)) {
        failures.push(
          `_id ${doc._id}: mongos ${JSON.stringify(found)}, model ${JSON.stringify(doc)}`
        );
      }
    }
  }
  const chunks = await client.db('config').collection('chunks').find({}).toArray();
  const owned = new Map<number, number>();
  for (const [i, shard] of cluster.shards.entries()) {
    const collection = shard.mongod.catalog.collection('soak', 'c');
    for (const doc of collection?.snapshot() ?? []) {
      const id = Number(doc.get('_id'));
      const k = Number(doc.get('k'));
      const chunk = chunks.find(ch => {
        const min = ch.min.k as unknown;
        const max = ch.max.k as unknown;
        return (typeof min !== 'number' || k >= min) && (typeof max !== 'number' || k < max);
      });
      if (chunk?.shard === `shard${i}`) owned.set(id, (owned.get(id) ?? 0) + 1);
    }
  }
  for (const id of model.keys()) {
    if (owned.get(id) !== 1) failures.push(`document ${id} is owned ${owned.get(id) ?? 0} times`);
  }
  if (events.length !== expectedEvents) {
    failures.push(`${events.length} change events for ${expectedEvents} writes`);
  }
  for (let i = 1; i < events.length; i++) {
    if (
      compareTs(events[i]!.clusterTime as Timestamp, events[i - 1]!.clusterTime as Timestamp) < 0
    ) {
      failures.push(`event ${i} goes back in cluster time`);
      break;
    }
  }
  const migrations = await Promise.all(
    cluster.shards.map(async (_, i) => {
      const shard = new MongoClient(cluster.shards[i]!.uri);
      try {
        return await shard
          .db('local')
          .collection('oplog.rs')
          .countDocuments({ ns: 'soak.c', fromMigrate: true });
      } finally {
        await shard.close();
      }
    })
  );
  console.log(
    JSON.stringify({
      seed,
      version,
      seconds,
      documents: model.size,
      writes: expectedEvents,
      chunks: chunks.length,
      chunksPerShard: cluster.shards.map(
        (_, i) => chunks.filter(ch => ch.shard === `shard${i}`).length
      ),
      fromMigrateEntries: migrations
    })
  );
} finally {
  await client.close();
  await cluster.stop();
}
if (failures.length > 0) {
  console.error(`soak failed (seed ${seed}):\n${failures.slice(0, 20).join('\n')}`);
  process.exit(1);
}
