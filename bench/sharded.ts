/**
 * `npm run bench:sharded`: incremental sync from a sharded source, every shard's oplog merged
 * (fetchMethod 'oplog', ShardedOplogFetcher) against one cluster-wide change stream through the
 * mongos (fetchMethod 'changeStream'), measured in one run, at N and 2N entries.
 *
 * The cluster (mongos, config server, shards) runs in one process, the target in another. A
 * workload of N writes to a collection sharded on a hashed `_id` (so every shard logs part of it)
 * is made first; each run then applies it from the same start point into an emptied target, and
 * the time until the target's applied position passes the workload's end is printed, with the
 * ratio of the two methods. (An idle shard holds a merge back until its next periodic no-op,
 * 10 s on mongod: writes after the workload on every shard keep that latency out of the figures;
 * docs/sharded-clusters.md discusses it.) BENCH_OPS sets N (10 000), BENCH_SHARDS the number of shards (2).
 * Figures only: the machine is shared and noisy, so nothing here asserts a time.
 */
import { MongoClient, type Timestamp } from 'mongodb';

import { MemoryCheckpointStore } from '../src/checkpoint/memory-checkpoint-store.js';
import { majorityOperationTime } from '../src/orchestration/source-position.js';
import { Replicator } from '../src/replicator.js';
import { type FetchMethod } from '../src/replicator-options.js';
import { startServerProcess } from './server-process.js';

const OPS = Number(process.env.BENCH_OPS ?? 10_000);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 2);

/** `count` writes: inserts in batches of 500, then an update of every other document. */
async function writeWorkload(mongos: MongoClient, db: string, count: number): Promise<void> {
  const coll = mongos.db(db).collection<{ _id: number }>('items');
  const inserts = Math.ceil((count * 2) / 3);
  for (let start = 0; start < inserts; start += 500) {
    const docs = Array.from({ length: Math.min(500, inserts - start) }, (_, k) => ({
      _id: start + k,
      name: `item ${start + k}`,
      n: k,
      nested: { x: k, y: 'text'.repeat(10) }
    }));
    await coll.insertMany(docs, { ordered: false });
  }
  await coll.updateMany({ n: { $mod: [2, 0] } }, { $inc: { n: 1 } });
}

async function applyRun(
  source: string,
  target: MongoClient,
  db: string,
  from: Timestamp,
  until: Timestamp,
  fetchMethod: FetchMethod
): Promise<number> {
  await target.db(db).dropDatabase();
  const replicator = new Replicator({
    source,
    target,
    fetchMethod,
    startAt: from,
    filter: { include: [`${db}.*`] },
    checkpoint: { name: `bench-${fetchMethod}`, store: new MemoryCheckpointStore() }
  });
  const started = process.hrtime.bigint();
  await replicator.start();
  const reached = () =>
    replicator.appliedOptime !== undefined && !replicator.appliedOptime.lessThan(until);
  if (!reached()) await replicator.waitFor('batch', { filter: () => reached() });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await replicator.stop();
  return seconds;
}

const cluster = await startServerProcess('cluster', 1024, SHARDS);
const target = await startServerProcess('target', 64);
const mongos = new MongoClient(cluster.uri);
const targetClient = new MongoClient(target.uri);
const rate = (count: number, seconds: number) =>
  `${Math.round(count / seconds).toLocaleString('en-US')} writes/s (${seconds.toFixed(2)} s)`;
try {
  await Promise.all([mongos.connect(), targetClient.connect()]);
  const results: { ops: number; oplog: number; stream: number }[] = [];
  for (const ops of [OPS, OPS * 2]) {
    const db = `bench${ops}`;
    await mongos.db('admin').command({ enableSharding: db });
    await mongos.db('admin').command({ shardCollection: `${db}.items`, key: { _id: 'hashed' } });
    const from = await majorityOperationTime(mongos);
    await writeWorkload(mongos, db, ops);
    const until = await majorityOperationTime(mongos);
    // A few writes after the end, landing on every shard: without them the merge (and mongos)
    // would wait for an idle shard's periodic no-op to pass the end, which is latency, not cost.
    await mongos
      .db(db)
      .collection<{ _id: string }>('trailer')
      .insertMany(Array.from({ length: 32 }, (_, k) => ({ _id: `t${k}` })));
    // Untimed warm-up of both paths on the first size only.
    if (results.length === 0) {
      await applyRun(cluster.uri, targetClient, db, from, until, 'oplog');
      await applyRun(cluster.uri, targetClient, db, from, until, 'changeStream');
    }
    const oplog = await applyRun(cluster.uri, targetClient, db, from, until, 'oplog');
    const stream = await applyRun(cluster.uri, targetClient, db, from, until, 'changeStream');
    results.push({ ops, oplog, stream });
    console.log(`${ops} writes over ${SHARDS} shards`);
    console.log(`  per-shard oplogs, merged: ${rate(ops, oplog)}`);
    console.log(`  one change stream:        ${rate(ops, stream)}`);
    console.log(`  ratio (oplog / stream):   ${(stream / oplog).toFixed(2)}x`);
  }
  const [n, twice] = results;
  if (n && twice) {
    console.log(
      `growth at 2N: oplog ${(twice.oplog / n.oplog).toFixed(2)}x, change stream ${(twice.stream / n.stream).toFixed(2)}x`
    );
  }
} finally {
  await Promise.allSettled([mongos.close(), targetClient.close()]);
  await Promise.allSettled([cluster.stop(), target.stop()]);
}
