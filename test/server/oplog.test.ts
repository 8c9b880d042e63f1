import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BSON, type Document, Long, type MongoClient, type MongoServerError } from 'mongodb';

import { withTimeout } from '../support/timeout-signal.js';
import {
  type AnyDoc,
  newestOplogTs,
  oplogEntriesAfter,
  type OplogEntryDoc,
  type Started,
  startWithClient
} from './support.js';

type Entry = OplogEntryDoc;

describe('test server oplog (7.0 format)', () => {
  let started: Started;
  let client: MongoClient;
  before(async () => {
    started = await startWithClient({ version: '7.0' });
    client = started.client;
  });
  after(async () => {
    await started.close();
  });

  it('is a capped collection without _id whose entries have strictly increasing ts', async () => {
    const [info] = await client
      .db('local')
      .listCollections({ name: 'oplog.rs' }, { nameOnly: false })
      .toArray();
    assert.equal(info!.options!.capped, true);
    await client
      .db('o')
      .collection<AnyDoc>('ts')
      .insertMany([{ a: 1 }, { a: 2 }, { a: 3 }]);
    const entries = await client.db('local').collection<AnyDoc>('oplog.rs').find({}).toArray();
    for (let i = 1; i < entries.length; i++) {
      assert.ok(
        (entries[i]!.ts as BSON.Timestamp).greaterThan(entries[i - 1]!.ts as BSON.Timestamp)
      );
      assert.equal(entries[i]!._id, undefined);
    }
  });

  it('logs implicit creation, then one insert entry per document, with the collection uuid', async () => {
    const since = await newestOplogTs(client);
    await client
      .db('o')
      .collection<AnyDoc>('ins')
      .insertMany([{ _id: 1, a: 1 }, { _id: 2 }]);
    const entries = await oplogEntriesAfter(client, since);
    assert.deepEqual(
      entries.map(e => e.op),
      ['c', 'i', 'i']
    );
    const [create, first] = entries as [Entry, Entry];
    assert.equal(create.ns, 'o.$cmd');
    assert.equal(create.o.create, 'ins');
    assert.deepEqual(create.o.idIndex, { v: 2, key: { _id: 1 }, name: '_id_' });
    assert.equal(first.ns, 'o.ins');
    assert.deepEqual(first.o, { _id: 1, a: 1 });
    assert.equal(first.v, 2);
    assert.ok(first.t instanceof Long || typeof first.t === 'number');
    assert.ok(first.wall instanceof Date);
    const [info] = await client
      .db('o')
      .listCollections({ name: 'ins' }, { nameOnly: false })
      .toArray();
    assert.ok(first.ui.equals(info!.info!.uuid), 'ui is the uuid listCollections reports');
    assert.ok(create.ui.equals(info!.info!.uuid));
  });

  it('records lsid, txnNumber, stmtId and prevOpTime for retryable writes', async () => {
    const since = await newestOplogTs(client);
    await client.db('o').collection<AnyDoc>('retry').insertOne({ _id: 1 });
    const insert = (await oplogEntriesAfter(client, since)).find(e => e.op === 'i')!;
    assert.ok(insert.lsid.id instanceof BSON.Binary);
    assert.equal(insert.lsid.uid.length(), 32);
    assert.ok(insert.txnNumber !== undefined);
    assert.equal(insert.stmtId, 0);
    assert.deepEqual(insert.prevOpTime, { ts: new BSON.Timestamp({ t: 0, i: 0 }), t: -1 });
  });

  it('logs $v:2 diffs for operator updates, a full document for replacements, nothing for no-ops', async () => {
    const coll = client.db('o').collection<AnyDoc>('upd');
    await coll.insertOne({ _id: 1, a: 1, b: { c: 1, d: [1, 2, 3] }, gone: true });
    const since = await newestOplogTs(client);
    await coll.updateOne(
      { _id: 1 },
      { $set: { a: 2, 'b.c': 5, 'b.d.1': 9, n: 1 }, $unset: { gone: '' } }
    );
    await coll.updateOne({ _id: 1 }, { $set: { a: 2 } });
    await coll.replaceOne({ _id: 1 }, { x: 1 });
    const entries = await oplogEntriesAfter(client, since);
    assert.deepEqual(
      entries.map(e => e.op),
      ['u', 'u']
    );
    const [diff, replacement] = entries as [Entry, Entry];
    assert.deepEqual(diff.o2, { _id: 1 });
    assert.equal(diff.o.$v, 2);
    assert.deepEqual(diff.o.diff, {
      d: { gone: false },
      u: { a: 2 },
      i: { n: 1 },
      sb: { u: { c: 5 }, sd: { a: true, u1: 9 } }
    });
    assert.deepEqual(replacement.o, { _id: 1, x: 1 });
    assert.deepEqual(replacement.o2, { _id: 1 });
  });

  it('logs a multi-document delete as one batched applyOps, and a single delete as d', async () => {
    const coll = client.db('o').collection<AnyDoc>('del');
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    const since = await newestOplogTs(client);
    await coll.deleteOne({ _id: 1 });
    await coll.deleteMany({});
    const [single, batched] = (await oplogEntriesAfter(client, since)) as [Entry, Entry];
    assert.equal(single.op, 'd');
    assert.deepEqual(single.o, { _id: 1 });
    assert.equal(batched.op, 'c');
    assert.equal(batched.ns, 'admin.$cmd');
    assert.deepEqual(
      batched.o.applyOps.map((op: Document) => [op.op, op.ns, op.o]),
      [
        ['d', 'o.del', { _id: 2 }],
        ['d', 'o.del', { _id: 3 }]
      ]
    );
  });

  it('logs DDL as c entries on <db>.$cmd', async () => {
    const db = client.db('ddl');
    const since = await newestOplogTs(client);
    await db.createCollection('capped', { capped: true, size: 1000 });
    await db.collection<AnyDoc>('a').insertOne({ _id: 1, k: 1 });
    await db.collection<AnyDoc>('a').createIndex({ k: 1 }, { unique: true });
    await db.collection<AnyDoc>('b').createIndex({ z: 1 });
    await db.collection<AnyDoc>('a').dropIndex('k_1');
    await db.command({ collMod: 'a', validator: { k: { $exists: true } } });
    await client.db('admin').command({ renameCollection: 'ddl.a', to: 'ddl.a2' });
    await db.collection<AnyDoc>('b').drop();
    await db.dropDatabase();
    const entries = (await oplogEntriesAfter(client, since)).filter(e => e.op === 'c');
    const summary = entries.map(e => Object.keys(e.o)[0]);
    assert.deepEqual(summary, [
      'create',
      'create',
      'startIndexBuild',
      'commitIndexBuild',
      'create',
      'createIndexes',
      'dropIndexes',
      'collMod',
      'renameCollection',
      'drop',
      'drop',
      'drop',
      'dropDatabase'
    ]);
    const capped = entries[0]!;
    assert.equal(capped.o.capped, true);
    assert.equal(capped.o.size, 1024, 'capped size is rounded up to a multiple of 256');
    const commit = entries[3]!;
    assert.deepEqual(commit.o.indexes, [{ v: 2, key: { k: 1 }, name: 'k_1', unique: true }]);
    assert.ok(commit.o.indexBuildUUID instanceof BSON.Binary);
    assert.deepEqual(entries[5]!.o, { createIndexes: 'b', v: 2, key: { z: 1 }, name: 'z_1' });
    assert.deepEqual(entries[6]!.o, { dropIndexes: 'a', index: 'k_1' });
    const rename = entries[8]!;
    assert.deepEqual(rename.o, { renameCollection: 'ddl.a', to: 'ddl.a2', stayTemp: false });
    assert.ok(entries.every(e => e.ns === 'ddl.$cmd'));
    assert.deepEqual(entries[9]!.o2, { numRecords: 0 });
  });

  it('records the noop written by appendOplogNote', async () => {
    const since = await newestOplogTs(client);
    await client.db('admin').command({ appendOplogNote: 1, data: { hello: 'oplog' } });
    const [note] = await oplogEntriesAfter(client, since);
    assert.equal(note!.op, 'n');
    assert.equal(note!.ns, '');
    assert.deepEqual(note!.o, { hello: 'oplog' });
  });
});

describe('test server oplog (6.0 and 4.4 formats)', () => {
  it('6.0 logs a multi-document delete as one d entry per document', async () => {
    const started = await startWithClient({ version: '6.0' });
    try {
      const coll = started.client.db('o').collection<AnyDoc>('del');
      await coll.insertMany([{ _id: 1 }, { _id: 2 }]);
      const since = await newestOplogTs(started.client);
      await coll.deleteMany({});
      const entries = await oplogEntriesAfter(started.client, since);
      assert.deepEqual(
        entries.map(e => [e.op, e.o]),
        [
          ['d', { _id: 1 }],
          ['d', { _id: 2 }]
        ]
      );
      assert.equal((await started.client.db('admin').command({ hello: 1 })).maxWireVersion, 17);
    } finally {
      await started.close();
    }
  });

  it('4.4 logs updates as $v:1 $set/$unset with final values', async () => {
    const started = await startWithClient({ version: '4.4' });
    try {
      const coll = started.client.db('o').collection<AnyDoc>('upd');
      await coll.insertOne({ _id: 1, a: 1, b: { c: 1 }, gone: 1 });
      const since = await newestOplogTs(started.client);
      await coll.updateOne({ _id: 1 }, { $inc: { a: 2, 'b.c': 1 }, $unset: { gone: '' } });
      const [entry] = await oplogEntriesAfter(started.client, since);
      assert.equal(entry!.op, 'u');
      assert.equal(entry!.o.$v, 1);
      assert.deepEqual(entry!.o.$set, { a: 3, 'b.c': 2 });
      assert.deepEqual(entry!.o.$unset, { gone: true });
      assert.equal((await started.client.db('admin').command({ hello: 1 })).maxWireVersion, 9);
    } finally {
      await started.close();
    }
  });
});

describe('test server oplog tailing', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient();
  });
  after(async () => {
    await started.close();
  });

  it('starts a ts >= query exactly at the requested entry', async () => {
    const start = await newestOplogTs(started.client);
    await started.client.db('t').collection<AnyDoc>('c').insertOne({ a: 1 });
    const [first] = await started.client
      .db('local')
      .collection<AnyDoc>('oplog.rs')
      .find({ ts: { $gte: start } })
      .limit(1)
      .toArray();
    assert.ok((first!.ts as BSON.Timestamp).equals(start));
  });

  it('keeps a tailable awaitData cursor alive across empty batches and wakes it on a write', async () => {
    const start = await newestOplogTs(started.client);
    const cursor = started.client
      .db('local')
      .collection<AnyDoc>('oplog.rs')
      .find(
        { ts: { $gt: start } },
        { tailable: true, awaitData: true, oplogReplay: true, maxAwaitTimeMS: 200 }
      );
    try {
      assert.equal(cursor.bufferedCount(), 0);
      // One empty getMore that waited maxAwaitTimeMS; the cursor is still open afterwards.
      const empty = await cursor.tryNext();
      assert.equal(empty, null);
      assert.equal(cursor.closed, false);
      const waiting = cursor.next();
      const writer = started.client.db('t').collection<AnyDoc>('wake');
      await writer.insertOne({ _id: 'wake' });
      const entry = await withTimeout(waiting, 10_000, 'the tailing cursor to wake');
      assert.ok(entry);
      const entries = [entry, await cursor.next()];
      assert.ok(entries.some(e => e?.op === 'i' && e.o._id === 'wake'));
    } finally {
      await cursor.close();
    }
  });

  it('returns a getMore as soon as an entry arrives, well before maxAwaitTimeMS', async () => {
    const start = await newestOplogTs(started.client);
    const tail = started.client
      .db('local')
      .collection<AnyDoc>('oplog.rs')
      .find({ ts: { $gt: start } }, { tailable: true, awaitData: true, maxAwaitTimeMS: 60_000 });
    try {
      const pending = tail.next();
      const startedAt = Date.now();
      await started.client.db('t').collection<AnyDoc>('fast').insertOne({ x: 1 });
      const entry = await pending;
      assert.ok(entry);
      assert.ok(
        Date.now() - startedAt < 30_000,
        'the getMore returned on the write, not on its timeout'
      );
    } finally {
      await tail.close();
    }
  });

  it('fails a getMore with CappedPositionLost once truncation removed the cursor position', async () => {
    const server = await startWithClient({ oplogSizeMb: 1 });
    try {
      const { client } = server;
      const start = await newestOplogTs(client);
      const cursor = client
        .db('local')
        .collection<AnyDoc>('oplog.rs')
        .find(
          { ts: { $gte: start } },
          { tailable: true, awaitData: true, batchSize: 1, maxAwaitTimeMS: 100 }
        );
      const first = await cursor.next();
      assert.ok(first);
      // Write well over 1 MiB so that the entry the cursor stands on is truncated away.
      const big = 'x'.repeat(100_000);
      for (let i = 0; i < 30; i++)
        await client.db('t').collection<AnyDoc>('big').insertOne({ i, big });
      await assert.rejects(
        async () => {
          for (;;) await cursor.next();
        },
        (error: MongoServerError) => {
          assert.equal(error.code, 136);
          assert.equal(error.codeName, 'CappedPositionLost');
          return true;
        }
      );
      await cursor.close();
      const [oldest] = await client
        .db('local')
        .collection<AnyDoc>('oplog.rs')
        .find({})
        .limit(1)
        .toArray();
      assert.ok(
        (oldest!.ts as BSON.Timestamp).greaterThan(start),
        'the oldest entries were dropped'
      );
    } finally {
      await server.close();
    }
  });

  it('shows a resume point older than the oldest entry as a missing first entry', async () => {
    const [first] = await started.client
      .db('local')
      .collection<AnyDoc>('oplog.rs')
      .find({ ts: { $gte: new BSON.Timestamp({ t: 1, i: 0 }) } })
      .limit(1)
      .toArray();
    assert.ok(!(first!.ts as BSON.Timestamp).equals(new BSON.Timestamp({ t: 1, i: 0 })));
  });
});
