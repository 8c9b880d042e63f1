/**
 * The sharded cluster mode (cluster/): mongos as a router the driver accepts, routing by shard
 * key, chunk migrations as mongod logs them, cluster time, cross-shard transactions and change
 * streams merged across shards. Everything goes through the driver, to mongos or to a shard
 * directly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  type BSON,
  type Document,
  Long,
  MaxKey,
  MongoClient,
  type MongoServerError,
  Timestamp
} from 'mongodb';

import { type TestCluster, type TestClusterOptions } from './cluster/cluster.js';
import { startTestServer } from './server.js';
import { type AnyDoc, type TopologyView } from './support.js';

interface Running {
  cluster: TestCluster;
  mongos: MongoClient;
  shards: MongoClient[];
  close(): Promise<void>;
}

async function startCluster(options: Partial<TestClusterOptions> = {}): Promise<Running> {
  const cluster = await startTestServer({ shards: 2, noopIntervalMs: 50, ...options });
  const mongos = new MongoClient(cluster.uri, { serverSelectionTimeoutMS: 5000 });
  await mongos.connect();
  const shards = cluster.shards.map(
    shard => new MongoClient(shard.uri, { serverSelectionTimeoutMS: 5000 })
  );
  await Promise.all(shards.map(client => client.connect()));
  return {
    cluster,
    mongos,
    shards,
    async close() {
      await Promise.all([mongos, ...shards].map(client => client.close()));
      await cluster.stop();
    }
  };
}

type Entry = Document & { ts: BSON.Timestamp; op: string; ns: string };

async function oplog(client: MongoClient, filter: Document = {}): Promise<Entry[]> {
  return (await client
    .db('local')
    .collection('oplog.rs')
    .find(filter)
    .toArray()) as unknown as Entry[];
}

async function count(client: MongoClient, ns: string): Promise<number> {
  const [db, coll] = ns.split('.') as [string, string];
  return client.db(db).collection(coll).countDocuments();
}

/** Polls `condition` on event-loop turns (no sleeps) until it holds, or fails after `ms`. */
async function eventually(
  condition: () => Promise<boolean>,
  ms: number,
  what: string
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise(resolve => setImmediate(resolve));
  }
}

function compareTs(a: BSON.Timestamp, b: BSON.Timestamp): number {
  return a.t !== b.t ? a.t - b.t : a.i - b.i;
}

describe('sharded cluster: mongos, shards and config metadata (7.0)', () => {
  let run: Running;
  before(async () => {
    run = await startCluster();
  });
  after(async () => {
    await run.close();
  });

  it('answers hello as a router and each shard as the primary of its own set', async () => {
    const hello = await run.mongos.db('admin').command({ hello: 1 });
    assert.equal(hello.isWritablePrimary, true);
    assert.equal(hello.msg, 'isdbgrid');
    assert.equal(hello.setName, undefined);
    assert.equal(hello.hosts, undefined);
    assert.equal(hello.maxWireVersion, 21);
    assert.ok(hello.$clusterTime.clusterTime instanceof Timestamp);
    const topology = (run.mongos as unknown as TopologyView).topology!.description;
    assert.equal(topology.type, 'Sharded');
    assert.equal([...topology.servers.values()][0]!.type, 'Mongos');
    for (const [i, shard] of run.shards.entries()) {
      const shardHello = await shard.db('admin').command({ hello: 1 });
      assert.equal(shardHello.setName, `shard${i}`);
      assert.equal(shardHello.isWritablePrimary, true);
      const view = (shard as unknown as TopologyView).topology!.description;
      assert.equal(view.type, 'ReplicaSetWithPrimary');
    }
  });

  it('lists the shards, and config.shards holds them with the shards’ own connection strings', async () => {
    const { shards } = await run.mongos.db('admin').command({ listShards: 1 });
    assert.deepEqual(
      shards.map((s: Document) => [s._id, s.state]),
      [
        ['shard0', 1],
        ['shard1', 1]
      ]
    );
    assert.equal(shards[0].host, `shard0/${run.cluster.shards[0]!.mongod.host}`);
    assert.ok(shards[0].topologyTime instanceof Timestamp);
    const version = await run.mongos.db('config').collection('version').findOne({});
    assert.ok(version?.clusterId);
    const identity = await run.shards[1]!.db('admin')
      .collection<AnyDoc>('system.version')
      .findOne({ _id: 'shardIdentity' });
    assert.equal(identity?.shardName, 'shard1');
  });

  it('keeps unsharded collections on their database primary shard', async () => {
    await run.mongos.db('admin').command({ enableSharding: 'plain', primaryShard: 'shard1' });
    await run.mongos
      .db('plain')
      .collection('c')
      .insertMany([{ a: 1 }, { a: 2 }]);
    assert.equal(await count(run.shards[1]!, 'plain.c'), 2);
    assert.equal(await count(run.shards[0]!, 'plain.c'), 0);
    assert.equal(await count(run.mongos, 'plain.c'), 2);
    const dbDoc = await run.mongos
      .db('config')
      .collection<AnyDoc>('databases')
      .findOne({ _id: 'plain' });
    assert.equal(dbDoc?.primary, 'shard1');
    assert.equal(dbDoc?.partitioned, undefined);
    assert.ok(dbDoc?.version?.timestamp instanceof Timestamp);
    const names = (await run.mongos.db('plain').listCollections().toArray()).map(c => c.name);
    assert.deepEqual(names, ['c']);
  });

  it('shards a hashed key into one chunk per shard and routes documents by their hash', async () => {
    const admin = run.mongos.db('admin');
    const reply = await admin.command({ shardCollection: 'app.h', key: { _id: 'hashed' } });
    assert.equal(reply.collectionsharded, 'app.h');
    const collection = await run.mongos
      .db('config')
      .collection<AnyDoc>('collections')
      .findOne({ _id: 'app.h' });
    assert.deepEqual(collection?.key, { _id: 'hashed' });
    assert.equal(collection?.unique, false);
    assert.ok(collection?.uuid);
    const chunks = await run.mongos
      .db('config')
      .collection('chunks')
      .find({ uuid: collection!.uuid }, { promoteLongs: false })
      .sort({ min: 1 })
      .toArray();
    assert.equal(chunks.length, 2);
    // calculateHashedSplitPoints: symmetric around 0; 7.0's chunk shape.
    assert.deepEqual(chunks[0]!.max, { _id: Long.fromNumber(0) });
    assert.deepEqual(
      chunks.map(c => c.shard),
      ['shard0', 'shard1']
    );
    assert.deepEqual(Object.keys(chunks[0]!), [
      '_id',
      'uuid',
      'min',
      'max',
      'shard',
      'lastmod',
      'onCurrentShardSince',
      'history'
    ]);
    // The shard key index, created with the collection (on every shard holding it).
    for (const client of [run.mongos, ...run.shards]) {
      const indexes = await client.db('app').collection('h').listIndexes().toArray();
      assert.deepEqual(
        indexes.map(index => [index.name, index.key]),
        [
          ['_id_', { _id: 1 }],
          ['_id_hashed', { _id: 'hashed' }]
        ]
      );
    }
    const docs = Array.from({ length: 40 }, (_, i) => ({ _id: i, v: i }));
    await run.mongos.db('app').collection<AnyDoc>('h').insertMany(docs);
    const perShard = await Promise.all(run.shards.map(shard => count(shard, 'app.h')));
    assert.equal(perShard[0]! + perShard[1]!, 40);
    assert.ok(perShard[0]! > 0 && perShard[1]! > 0, `both shards hold documents: ${perShard}`);
    // hash64(1) = 5902408780260971510 (hasher_test.cpp): _id 1 lives in the positive chunk.
    const one = await run.shards[1]!.db('app').collection<AnyDoc>('h').findOne({ _id: 1 });
    assert.deepEqual(one, { _id: 1, v: 1 });
    // The same collection UUID on both shards.
    const uuids = await Promise.all(
      run.shards.map(async shard => {
        const [info] = await shard.db('app').listCollections({ name: 'h' }).toArray();
        return (info as Document).info.uuid.toString('hex');
      })
    );
    assert.equal(uuids[0], uuids[1]);
  });

  it('scatters queries without the shard key and merges sort, skip, limit and projection', async () => {
    const h = run.mongos.db('app').collection<AnyDoc>('h');
    const page = await h
      .find({ v: { $gte: 10 } }, { projection: { _id: 0, v: 1 } })
      .sort({ v: -1 })
      .skip(2)
      .limit(5)
      .toArray();
    assert.deepEqual(
      page,
      [37, 36, 35, 34, 33].map(v => ({ v }))
    );
    assert.equal(await h.countDocuments({ v: { $lt: 10 } }), 10);
    assert.deepEqual((await h.distinct('v', { v: { $lt: 3 } })).sort(), [0, 1, 2]);
    const grouped = await h
      .aggregate([
        { $match: { v: { $lt: 20 } } },
        { $group: { _id: { $mod: ['$v', 2] }, n: { $sum: 1 } } },
        { $sort: { _id: 1 } }
      ])
      .toArray();
    assert.deepEqual(grouped, [
      { _id: 0, n: 10 },
      { _id: 1, n: 10 }
    ]);
    // More results than one batch: the merged cursor is mongos's own.
    const all = await h.find({}, { batchSize: 7 }).sort({ _id: 1 }).toArray();
    assert.deepEqual(
      all.map(d => d._id),
      Array.from({ length: 40 }, (_, i) => i)
    );
  });

  it('routes multi-writes to every shard and single writes by shard key or _id', async () => {
    const h = run.mongos.db('app').collection<AnyDoc>('h');
    const many = await h.updateMany({ v: { $gte: 30 } }, { $set: { big: true } });
    assert.equal(many.modifiedCount, 10);
    const one = await h.updateOne({ _id: 5 }, { $inc: { v: 100 } });
    assert.equal(one.modifiedCount, 1);
    assert.equal((await h.findOne({ _id: 5 }))?.v, 105);
    const removed = await h.deleteMany({ big: true });
    assert.equal(removed.deletedCount, 10);
    assert.equal(await h.countDocuments(), 30);
  });

  it('logs sharded-collection writes with their document key (shard key and _id)', async () => {
    const admin = run.mongos.db('admin');
    await admin.command({ shardCollection: 'app.people', key: { region: 1 } });
    const people = run.mongos.db('app').collection<AnyDoc>('people');
    await people.insertOne({ _id: 'p1', region: 'eu', n: 1 });
    await people.updateOne({ region: 'eu', _id: 'p1' }, { $set: { n: 2 } });
    await people.deleteOne({ region: 'eu', _id: 'p1' });
    const entries = await oplog(run.shards[0]!, { ns: 'app.people', op: { $ne: 'n' } });
    assert.deepEqual(
      entries.map(e => [e.op, e.op === 'd' ? e.o : e.o2]),
      [
        ['i', { region: 'eu', _id: 'p1' }],
        ['u', { region: 'eu', _id: 'p1' }],
        ['d', { region: 'eu', _id: 'p1' }]
      ]
    );
  });

  it('runs 7.0 single writes without the shard key through the two-phase protocol', async () => {
    const people = run.mongos.db('app').collection<AnyDoc>('people');
    await people.insertMany([
      { _id: 'a', region: 'us', name: 'ann' },
      { _id: 'b', region: 'us', name: 'bob' }
    ]);
    const updated = await people.updateOne({ name: 'bob' }, { $set: { seen: true } });
    assert.equal(updated.modifiedCount, 1);
    assert.equal((await people.findOne({ _id: 'b', region: 'us' }))?.seen, true);
    // Written in an internal transaction: an applyOps under an lsid with a txnUUID.
    const [entry] = (await oplog(run.shards[0]!, { 'o.applyOps.ns': 'app.people' })).slice(-1);
    assert.ok(entry?.lsid?.txnUUID, 'internal transaction lsid');
    assert.equal(entry!.o.applyOps[0].op, 'u');
    const deleted = await people.deleteOne({ name: 'ann' });
    assert.equal(deleted.deletedCount, 1);
    assert.equal(await people.countDocuments({ region: 'us' }), 1);
  });

  it('sends retryable writes with the client’s statement ids, answering retries per shard', async () => {
    const admin = run.mongos.db('admin');
    await admin.command({ enableSharding: 'retry', primaryShard: 'shard0' });
    await admin.command({ shardCollection: 'retry.c', key: { k: 1 } });
    await admin.command({ split: 'retry.c', middle: { k: 0 } });
    await admin.command({ moveChunk: 'retry.c', find: { k: 1 }, to: 'shard1' });
    const c = run.mongos.db('retry').collection<AnyDoc>('c');
    // The second shard drops the connection once: mongos answers HostUnreachable, the driver
    // retries the whole batch, and shard0 answers its part from what it recorded.
    await run.shards[1]!.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], closeConnection: true }
    });
    const result = await c.insertMany(
      [
        { _id: 1, k: -1 },
        { _id: 2, k: 1 },
        { _id: 3, k: -2 },
        { _id: 4, k: 2 }
      ],
      { ordered: false }
    );
    assert.equal(result.insertedCount, 4);
    assert.equal(await c.countDocuments(), 4);
    const stmtIds = await Promise.all(
      run.shards.map(async shard =>
        (await oplog(shard, { ns: 'retry.c', op: 'i', fromMigrate: { $ne: true } })).map(
          e => e.stmtId
        )
      )
    );
    assert.deepEqual(stmtIds, [
      [0, 2],
      [1, 3]
    ]);
  });

  it('moves a document whose shard key update changes its shard (retryable write)', async () => {
    const c = run.mongos.db('retry').collection<AnyDoc>('c');
    const result = await c.updateOne({ k: -1, _id: 1 }, { $set: { k: 5 } });
    assert.equal(result.modifiedCount, 1);
    assert.deepEqual(await c.findOne({ _id: 1 }), { _id: 1, k: 5 });
    assert.equal(
      await run.shards[0]!.db('retry').collection<AnyDoc>('c').countDocuments({ _id: 1 }),
      0
    );
    assert.equal(
      await run.shards[1]!.db('retry').collection<AnyDoc>('c').countDocuments({ _id: 1 }),
      1
    );
    const nonRetryable = new MongoClient(run.cluster.uri, { retryWrites: false });
    try {
      await assert.rejects(
        nonRetryable
          .db('retry')
          .collection<AnyDoc>('c')
          .updateOne({ k: 5, _id: 1 }, { $set: { k: -5 } }),
        (error: MongoServerError) => {
          // The driver wraps a write's IllegalOperation (its MMAPv1 retryable-writes check).
          const original = (error.originalError ?? error) as MongoServerError;
          assert.equal(original.code, 20);
          assert.match(original.message, /^Must run update to shard key field/);
          return true;
        }
      );
    } finally {
      await nonRetryable.close();
    }
  });

  it('gossips one cluster time: replies carry $clusterTime, shard oplogs interleave', async () => {
    const before = await run.mongos.db('admin').command({ ping: 1 });
    await run.mongos.db('app').collection<AnyDoc>('h').insertOne({ _id: 1000, v: 0 });
    const after = await run.mongos.db('admin').command({ ping: 1 });
    assert.ok(compareTs(after.$clusterTime.clusterTime, before.$clusterTime.clusterTime) > 0);
    const shardReply = await run.shards[0]!.db('admin').command({ ping: 1 });
    assert.ok(compareTs(shardReply.$clusterTime.clusterTime, after.operationTime) >= 0);
    const all = [...(await oplog(run.shards[0]!)), ...(await oplog(run.shards[1]!))].filter(e =>
      e.ns.startsWith('app.')
    );
    const stamps = new Set(all.map(e => `${e.ts.t}:${e.ts.i}`));
    assert.equal(stamps.size, all.length, 'no two shards share an oplog timestamp');
  });

  it('advances an idle shard’s oplog with periodic no-ops', async () => {
    const start = (await oplog(run.shards[1]!)).length;
    await eventually(
      async () => {
        const entries = await oplog(run.shards[1]!, { 'o.msg': 'periodic noop' });
        return entries.length > 0 && (await oplog(run.shards[1]!)).length > start;
      },
      5000,
      'a periodic noop on an idle shard'
    );
  });
});

describe('sharded cluster: chunk migrations', () => {
  let run: Running;
  before(async () => {
    run = await startCluster({ orphanCleanupDelayMs: 60_000 });
    const admin = run.mongos.db('admin');
    await admin.command({ enableSharding: 'mig', primaryShard: 'shard0' });
    await admin.command({ shardCollection: 'mig.r', key: { k: 1 } });
    await run.mongos
      .db('mig')
      .collection<AnyDoc>('r')
      .insertMany(Array.from({ length: 20 }, (_, k) => ({ _id: k, k })));
    await admin.command({ split: 'mig.r', middle: { k: 10 } });
  });
  after(async () => {
    await run.close();
  });

  it('moves a chunk: config.chunks, both oplogs with fromMigrate, orphans until range deletion', async () => {
    const admin = run.mongos.db('admin');
    const before = await oplog(run.shards[0]!);
    await admin.command({ moveChunk: 'mig.r', find: { k: 15 }, to: 'shard1' });
    const chunks = await run.mongos
      .db('config')
      .collection('chunks')
      .find({})
      .sort({ min: 1 })
      .toArray();
    const moved = chunks.find(c => c.min.k === 10)!;
    assert.equal(moved.shard, 'shard1');
    assert.equal(moved.lastmod.t, 2);
    assert.equal(moved.history[0].shard, 'shard1');
    assert.deepEqual(moved.onCurrentShardSince, moved.history[0].validAfter);
    // The recipient logged each moved document as an insert with fromMigrate.
    const received = await oplog(run.shards[1]!, { ns: 'mig.r', op: 'i' });
    assert.equal(received.length, 10);
    assert.ok(received.every(e => e.fromMigrate === true));
    // The donor logged the first chunk reaching a new shard for change streams.
    const notes = (await oplog(run.shards[0]!, { op: 'n', ns: 'mig.r' })).map(e => e.o2);
    assert.ok(
      notes.some(
        o2 =>
          o2.migrateChunkToNewShard === 'mig.r' &&
          o2.fromShardId === 'shard0' &&
          o2.toShardId === 'shard1'
      )
    );
    // Orphans stay on the donor, visible directly, invisible through mongos.
    assert.equal(await count(run.shards[0]!, 'mig.r'), 20);
    assert.equal(await count(run.mongos, 'mig.r'), 20);
    assert.equal(
      await run.mongos
        .db('mig')
        .collection('r')
        .countDocuments({ k: { $gte: 10 } }),
      10
    );
    const pending = await run.shards[0]!.db('config').collection('rangeDeletions').find().toArray();
    assert.equal(pending.length, 1);
    assert.equal(before.filter(e => e.fromMigrate).length, 0);
  });

  it('deletes the orphans with fromMigrate when the range deleter runs (_waitForDelete)', async () => {
    const admin = run.mongos.db('admin');
    await admin.command({
      moveChunk: 'mig.r',
      find: { k: 0 },
      to: 'shard1',
      _waitForDelete: true
    });
    const deletes = await oplog(run.shards[0]!, { ns: 'mig.r', op: 'd' });
    assert.equal(deletes.length, 10);
    assert.ok(deletes.every(e => e.fromMigrate === true));
    assert.equal(await count(run.mongos, 'mig.r'), 20);
    // The donor lost its last chunk: 6.0+ logs it for change streams.
    const notes = (await oplog(run.shards[0]!, { op: 'n', ns: 'mig.r' })).map(e => e.o2);
    assert.ok(notes.some(o2 => o2.migrateLastChunkFromShard === 'mig.r'));
  });

  it('carries writes made during a migration over to the recipient', async () => {
    const admin = run.mongos.db('admin');
    const r = run.mongos.db('mig').collection<AnyDoc>('r');
    await run.shards[1]!.db('admin').command({
      configureFailPoint: 'moveChunkHangAtStep3',
      mode: 'alwaysOn'
    });
    const moving = admin.command({ moveChunk: 'mig.r', find: { k: 0 }, to: 'shard0' });
    await eventually(
      async () =>
        (await oplog(run.shards[0]!, { ns: 'mig.r', op: 'i', fromMigrate: true })).length >= 10,
      5000,
      'the migration to clone its documents'
    );
    // The chunk is still on shard1: these writes go there, and must reach shard0.
    await r.insertOne({ _id: 100, k: 3 });
    await r.updateOne({ k: 4, _id: 4 }, { $set: { touched: true } });
    await r.deleteOne({ k: 5, _id: 5 });
    await run.shards[1]!.db('admin').command({
      configureFailPoint: 'moveChunkHangAtStep3',
      mode: 'off'
    });
    await moving;
    const onRecipient = run.shards[0]!.db('mig').collection<AnyDoc>('r');
    assert.deepEqual(await onRecipient.findOne({ _id: 100 }), { _id: 100, k: 3 });
    assert.equal((await onRecipient.findOne({ _id: 4 }))?.touched, true);
    // The document deleted on the donor during the clone is gone from the recipient.
    const chunkOwner = await run.mongos
      .db('config')
      .collection('chunks')
      .findOne({ 'min.k': { $type: 'minKey' } });
    assert.equal(chunkOwner?.shard, 'shard0');
    assert.equal(await r.countDocuments({ k: { $lt: 10 } }), 10);
    assert.equal(await r.findOne({ _id: 5 }), null);
    const mods = await oplog(run.shards[0]!, {
      ns: 'mig.r',
      fromMigrate: true,
      'o._id': { $in: [100, 4, 5] }
    });
    assert.ok(mods.some(e => e.op === 'i' && e.o._id === 100));
    assert.ok(mods.some(e => e.op === 'u' && e.o._id === 4));
  });
  it('aborts a transaction that wrote a migrating chunk on the donor (retried on the recipient)', async () => {
    const admin = run.mongos.db('admin');
    const r = run.mongos.db('mig').collection<AnyDoc>('r');
    const session = run.mongos.startSession();
    try {
      session.startTransaction();
      await r.updateOne({ k: 12, _id: 12 }, { $set: { inTxn: true } }, { session });
      // The chunk holding k 12 moves while the transaction is open on its donor.
      const owner = await run.mongos
        .db('config')
        .collection('chunks')
        .findOne({ 'max.k': { $type: 'maxKey' } });
      await admin.command({
        moveChunk: 'mig.r',
        find: { k: 12 },
        to: owner?.shard === 'shard0' ? 'shard1' : 'shard0'
      });
      await assert.rejects(session.commitTransaction(), (error: MongoServerError) => {
        assert.equal(error.code, 251);
        assert.ok(error.hasErrorLabel('TransientTransactionError'));
        return true;
      });
    } finally {
      await session.endSession();
    }
    assert.equal((await r.findOne({ k: 12, _id: 12 }))?.inTxn, undefined);
    const retry = run.mongos.startSession();
    try {
      await retry.withTransaction(async () => {
        await r.updateOne({ k: 12, _id: 12 }, { $set: { inTxn: true } }, { session: retry });
      });
    } finally {
      await retry.endSession();
    }
    assert.equal((await r.findOne({ k: 12, _id: 12 }))?.inTxn, true);
  });
});

describe('sharded cluster: transactions', () => {
  let run: Running;
  before(async () => {
    run = await startCluster();
    const admin = run.mongos.db('admin');
    await admin.command({ enableSharding: 'tx', primaryShard: 'shard0' });
    await admin.command({ shardCollection: 'tx.t', key: { k: 1 } });
    await admin.command({ split: 'tx.t', middle: { k: 0 } });
    await admin.command({ moveChunk: 'tx.t', find: { k: 1 }, to: 'shard1' });
  });
  after(async () => {
    await run.close();
  });

  it('commits a cross-shard transaction with prepare and commitTransaction entries on both shards', async () => {
    const t = run.mongos.db('tx').collection<AnyDoc>('t');
    const session = run.mongos.startSession();
    try {
      await session.withTransaction(async () => {
        await t.insertOne({ _id: 'neg', k: -1 }, { session });
        await t.insertOne({ _id: 'pos', k: 1 }, { session });
      });
    } finally {
      await session.endSession();
    }
    assert.equal(await t.countDocuments(), 2);
    const commitTimestamps = [];
    for (const shard of run.shards) {
      const prepare = (await oplog(shard, { 'o.prepare': true })).at(-1)!;
      assert.equal(prepare.o.applyOps.length, 1);
      assert.equal(prepare.o.applyOps[0].ns, 'tx.t');
      const commit = (await oplog(shard, { 'o.commitTransaction': 1 })).at(-1)!;
      assert.deepEqual(commit.prevOpTime.ts, prepare.ts);
      assert.deepEqual(commit.lsid.id, prepare.lsid.id);
      assert.ok(compareTs(commit.o.commitTimestamp, prepare.ts) >= 0);
      commitTimestamps.push(commit.o.commitTimestamp);
    }
    assert.deepEqual(commitTimestamps[0], commitTimestamps[1]);
    const coordinator = await oplog(run.shards[0]!, { ns: 'config.transaction_coordinators' });
    assert.deepEqual(
      coordinator.map(e => e.op),
      ['i', 'u', 'd']
    );
  });

  it('commits a single-shard transaction as one applyOps, as on a replica set', async () => {
    const t = run.mongos.db('tx').collection<AnyDoc>('t');
    const session = run.mongos.startSession();
    try {
      await session.withTransaction(async () => {
        await t.insertOne({ _id: 'a', k: 5 }, { session });
        await t.insertOne({ _id: 'b', k: 6 }, { session });
      });
    } finally {
      await session.endSession();
    }
    const [last] = (
      await oplog(run.shards[1]!, { op: 'c', 'o.applyOps': { $exists: true } })
    ).slice(-1);
    assert.equal(last?.o.prepare, undefined);
    assert.deepEqual(
      last?.o.applyOps.map((op: Document) => op.o._id),
      ['a', 'b']
    );
  });
});

describe('sharded cluster: change streams on mongos', () => {
  let run: Running;
  before(async () => {
    run = await startCluster({ orphanCleanupDelayMs: 0 });
    const admin = run.mongos.db('admin');
    await admin.command({ enableSharding: 'cs', primaryShard: 'shard0' });
    await admin.command({ shardCollection: 'cs.c', key: { k: 1 } });
    await admin.command({ split: 'cs.c', middle: { k: 0 } });
    await admin.command({ moveChunk: 'cs.c', find: { k: 1 }, to: 'shard1' });
  });
  after(async () => {
    await run.close();
  });

  it('merges every shard’s writes in cluster-time order, without migrations, and resumes', async () => {
    const c = run.mongos.db('cs').collection<AnyDoc>('c');
    const stream = run.mongos.watch();
    await stream.tryNext();
    const startAt = (await run.mongos.db('admin').command({ ping: 1 })).operationTime;
    for (let i = 1; i <= 6; i++) await c.insertOne({ _id: i, k: i % 2 === 0 ? i : -i });
    await run.mongos.db('admin').command({ moveChunk: 'cs.c', find: { k: 1 }, to: 'shard0' });
    await c.updateOne({ k: 2, _id: 2 }, { $set: { after: true } });
    const events: Document[] = [];
    while (events.length < 7) {
      const event = await stream.next();
      events.push(event);
    }
    await stream.close();
    assert.deepEqual(
      events.map(e => [e.operationType, e.documentKey._id]),
      [
        ['insert', 1],
        ['insert', 2],
        ['insert', 3],
        ['insert', 4],
        ['insert', 5],
        ['insert', 6],
        ['update', 2]
      ]
    );
    for (let i = 1; i < events.length; i++) {
      assert.ok(compareTs(events[i]!.clusterTime, events[i - 1]!.clusterTime) > 0);
    }
    // Resuming after the third event yields the rest, from both shards.
    const resumed = c.watch<AnyDoc, Document>([], { resumeAfter: events[2]!._id });
    const rest: Document[] = [];
    while (rest.length < 4) rest.push(await resumed.next());
    await resumed.close();
    assert.deepEqual(
      rest.map(e => e.documentKey._id),
      [4, 5, 6, 2]
    );
    // startAtOperationTime replays from that cluster time.
    const replay = c.watch<AnyDoc, Document>([], { startAtOperationTime: startAt });
    const first = await replay.next();
    await replay.close();
    assert.equal(first.documentKey._id, 1);
  });

  it('shows a cross-shard transaction’s events from both shards with its lsid', async () => {
    const c = run.mongos.db('cs').collection<AnyDoc>('c');
    const stream = c.watch();
    await stream.tryNext();
    const session = run.mongos.startSession();
    try {
      await session.withTransaction(async () => {
        await c.insertOne({ _id: 'tx-neg', k: -100 }, { session });
        await c.insertOne({ _id: 'tx-pos', k: 100 }, { session });
      });
    } finally {
      await session.endSession();
    }
    const events = [await stream.next(), await stream.next()];
    await stream.close();
    assert.deepEqual(events.map(e => (e as Document).documentKey._id).sort(), ['tx-neg', 'tx-pos']);
    for (const event of events) {
      assert.ok((event as Document).lsid);
      assert.equal(
        ((event as Document).txnNumber as Long | number).toString(),
        events[0]!.txnNumber!.toString()
      );
    }
  });

  it('shows shardCollection with showExpandedEvents (6.0+)', async () => {
    const stream = run.mongos.db('cs').watch([], { showExpandedEvents: true });
    await stream.tryNext();
    await run.mongos.db('admin').command({ shardCollection: 'cs.other', key: { x: 1 } });
    const seen: Document[] = [];
    while (!seen.some(e => e.operationType === 'shardCollection')) seen.push(await stream.next());
    await stream.close();
    const event = seen.find(e => e.operationType === 'shardCollection')!;
    assert.deepEqual(event.ns, { db: 'cs', coll: 'other' });
    assert.deepEqual(event.operationDescription.shardKey, { x: 1 });
    assert.equal(event.operationDescription.unique, false);
    assert.equal(seen.filter(e => e.operationType === 'create').length, 1);
  });
});

describe('sharded cluster: 4.4 and 6.0 profiles', () => {
  it('4.4: legacy metadata shapes, migration note and targeting errors', async () => {
    const run = await startCluster({ version: '4.4' });
    try {
      const admin = run.mongos.db('admin');
      await assert.rejects(
        admin.command({ shardCollection: 'old.c', key: { k: 1 } }),
        (error: MongoServerError) => error.code === 20
      );
      await admin.command({ enableSharding: 'old', primaryShard: 'shard0' });
      await admin.command({ shardCollection: 'old.c', key: { k: 1 } });
      const c = run.mongos.db('old').collection<AnyDoc>('c');
      await c.insertMany([
        { _id: 1, k: 1, name: 'x' },
        { _id: 2, k: 20, name: 'y' }
      ]);
      await admin.command({ split: 'old.c', middle: { k: 10 } });
      await admin.command({ moveChunk: 'old.c', find: { k: 20 }, to: 'shard1' });
      const chunk = await run.mongos
        .db('config')
        .collection<AnyDoc>('chunks')
        .findOne({ ns: 'old.c', shard: 'shard1' });
      assert.equal(chunk?._id, 'old.c-k_10');
      assert.ok(chunk?.lastmodEpoch);
      const dbDoc = await run.mongos
        .db('config')
        .collection<AnyDoc>('databases')
        .findOne({ _id: 'old' });
      assert.equal(dbDoc?.partitioned, true);
      const note = (await oplog(run.shards[0]!, { op: 'n', ns: 'old.c' }))[0];
      assert.deepEqual(note?.o2, { type: 'migrateChunkToNewShard', from: 'shard0', to: 'shard1' });
      const recovery = await run.shards[0]!.db('admin')
        .collection<AnyDoc>('system.version')
        .findOne({ _id: 'minOpTimeRecovery' });
      assert.equal(recovery?.shardName, 'shard0');
      assert.equal(recovery?.minOpTimeUpdaters, 0);
      // moveChunk by bounds moves it back.
      await admin.command({
        moveChunk: 'old.c',
        bounds: [{ k: 10 }, { k: new MaxKey() }],
        to: 'shard0'
      });
      assert.equal(
        await run.mongos.db('config').collection('chunks').countDocuments({ shard: 'shard0' }),
        2
      );
      await admin.command({ moveChunk: 'old.c', find: { k: 20 }, to: 'shard1' });
      await assert.rejects(
        c.updateOne({ name: 'x' }, { $set: { n: 1 } }),
        (error: MongoServerError) => {
          assert.equal(error.code, 72);
          assert.match(error.message, /A \{multi:false\} update on a sharded collection/);
          return true;
        }
      );
      await assert.rejects(c.deleteOne({ name: 'x' }), (error: MongoServerError) => {
        assert.equal(error.code, 61);
        assert.match(error.message, /^A single delete on a sharded collection must contain/);
        return true;
      });
      // An exact _id is broadcast.
      assert.equal((await c.deleteOne({ _id: 2 })).deletedCount, 1);
      assert.equal(await c.countDocuments(), 1);
    } finally {
      await run.close();
    }
  });

  it('6.0: two hashed chunks per shard, and no two-phase write without the shard key', async () => {
    const run = await startCluster({ version: '6.0' });
    try {
      const admin = run.mongos.db('admin');
      await admin.command({ shardCollection: 'six.h', key: { x: 'hashed' } });
      const chunks = await run.mongos.db('config').collection('chunks').countDocuments();
      assert.equal(chunks, 4);
      const h = run.mongos.db('six').collection<AnyDoc>('h');
      await h.insertOne({ _id: 1, x: 1, y: 1 });
      await assert.rejects(
        h.updateOne({ y: 1 }, { $set: { z: 1 } }),
        (error: MongoServerError) => error.code === 72
      );
      assert.equal((await h.updateOne({ x: 1 }, { $set: { z: 1 } })).modifiedCount, 1);
    } finally {
      await run.close();
    }
  });
});

describe('sharded cluster: balancer', () => {
  it('moves chunks in the background while writes run, losing none', async () => {
    const run = await startCluster({ balancer: true, balancerIntervalMs: 20 });
    try {
      const admin = run.mongos.db('admin');
      const status = await admin.command({ balancerStatus: 1 });
      assert.equal(status.mode, 'full');
      await admin.command({ enableSharding: 'bal', primaryShard: 'shard0' });
      await admin.command({ shardCollection: 'bal.c', key: { k: 1 } });
      const c = run.mongos.db('bal').collection<AnyDoc>('c');
      let next = 0;
      await eventually(
        async () => {
          await c.insertMany(Array.from({ length: 20 }, () => ({ _id: next, k: next++ })));
          const onShard1 = await run.mongos
            .db('config')
            .collection('chunks')
            .countDocuments({ shard: 'shard1' });
          return onShard1 > 0;
        },
        10_000,
        'the balancer to move a chunk to shard1'
      );
      await admin.command({ balancerStop: 1 });
      assert.equal((await admin.command({ balancerStatus: 1 })).mode, 'off');
      assert.equal(await c.countDocuments(), next);
      const ids = (await c.find({}, { projection: { _id: 1 } }).toArray()).map(
        d => d._id as number
      );
      assert.equal(new Set(ids).size, next);
      const migrated = await oplog(run.shards[1]!, { ns: 'bal.c', fromMigrate: true });
      assert.ok(migrated.length > 0);
    } finally {
      await run.close();
    }
  });
});
