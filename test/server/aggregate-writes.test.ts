/**
 * `$out`, `$merge` and collectionless aggregation (`$documents`, `$listLocalSessions`), as the
 * driver specs' CRUD tests use them (crud/tests/unified/aggregate-out-*.json,
 * aggregate-merge*.json, db-aggregate*.json).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { type Collection, type Db, MongoServerError } from 'mongodb';

import {
  type AnyDoc,
  newestOplogTs,
  oplogEntriesAfter,
  type Started,
  startWithClient
} from './support.js';

describe('test server $out and $merge', () => {
  let started: Started;
  let db: Db;
  let source: Collection<AnyDoc>;
  before(async () => {
    started = await startWithClient();
    db = started.client.db('agg');
    source = db.collection<AnyDoc>('source');
  });
  beforeEach(async () => {
    await db.dropDatabase();
    await source.insertMany([
      { _id: 1, x: 11 },
      { _id: 2, x: 22 },
      { _id: 3, x: 33 }
    ]);
  });
  after(async () => {
    await started.close();
  });

  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: unknown) => (e instanceof MongoServerError ? e.code : e)
    );

  it('$out replaces the target through a temporary collection, keeping its indexes', async () => {
    const target = db.collection<AnyDoc>('target');
    await target.insertOne({ _id: 'old' });
    await target.createIndex({ x: 1 }, { name: 'x_1' });
    const since = await newestOplogTs(started.client);
    const reply = await source
      .aggregate([{ $match: { _id: { $gt: 1 } } }, { $out: 'target' }])
      .toArray();
    assert.deepEqual(reply, []);
    assert.deepEqual(await target.find().sort({ _id: 1 }).toArray(), [
      { _id: 2, x: 22 },
      { _id: 3, x: 33 }
    ]);
    assert.deepEqual(
      (await target.indexes()).map(index => index.name),
      ['_id_', 'x_1']
    );
    const entries = await oplogEntriesAfter(started.client, since);
    const kinds = entries.map(e => (e.op === 'c' ? Object.keys(e.o)[0] : e.op));
    assert.deepEqual(kinds, ['create', 'createIndexes', 'i', 'i', 'renameCollection']);
    const tempNs = `agg.${entries[0]!.o.create as string}`;
    assert.match(tempNs, /^agg\.tmp\.agg_out\.[0-9a-f-]{36}$/);
    assert.equal(entries[0]!.o.temp, true);
    assert.equal(entries[2]!.ns, tempNs);
    assert.equal(entries[4]!.o.renameCollection, tempNs);
    assert.equal(entries[4]!.o.to, 'agg.target');
    assert.ok(entries[4]!.o.dropTarget, 'the old target is dropped by the rename');
    const listed = await db.listCollections({ name: 'target' }, { nameOnly: false }).toArray();
    assert.equal((listed[0]!.options as AnyDoc).temp, undefined);
  });

  it('$out to another database, and its refusals', async () => {
    await source.aggregate([{ $out: { db: 'agg2', coll: 'copy' } }]).toArray();
    assert.equal(await started.client.db('agg2').collection('copy').countDocuments(), 3);
    assert.equal(await codeOf(source.aggregate([{ $out: 'system.x' }]).toArray()), 17385);
    assert.equal(
      await codeOf(source.aggregate([{ $out: { db: 'admin', coll: 'x' } }]).toArray()),
      31321
    );
    assert.equal(await codeOf(source.aggregate([{ $out: 'a' }, { $match: {} }]).toArray()), 40601);
    await db.createCollection('capped', { capped: true, size: 4096 });
    assert.equal(await codeOf(source.aggregate([{ $out: 'capped' }]).toArray()), 17152);
  });

  it('$out drops its temporary collection when an insert fails', async () => {
    const error = await source
      .aggregate([{ $project: { _id: 0 } }, { $addFields: { _id: 1 } }, { $out: 'dups' }])
      .toArray()
      .catch((e: unknown) => e);
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.code, 11000);
    const names = (await db.listCollections().toArray()).map(c => c.name).sort();
    assert.deepEqual(names, ['source']);
  });

  it('$merge with the default modes (merge, insert) merges matches and inserts the rest', async () => {
    const target = db.collection<AnyDoc>('target');
    await target.insertOne({ _id: 1, y: 'kept' });
    await source.aggregate([{ $merge: { into: 'target' } }]).toArray();
    assert.deepEqual(await target.find().sort({ _id: 1 }).toArray(), [
      { _id: 1, y: 'kept', x: 11 },
      { _id: 2, x: 22 },
      { _id: 3, x: 33 }
    ]);
  });

  it('$merge whenMatched replace / keepExisting / pipeline, whenNotMatched discard', async () => {
    const target = db.collection<AnyDoc>('target');
    await target.insertMany([
      { _id: 1, y: 1 },
      { _id: 2, y: 2 }
    ]);
    await source
      .aggregate([
        { $merge: { into: 'target', whenMatched: 'replace', whenNotMatched: 'discard' } }
      ])
      .toArray();
    assert.deepEqual(await target.find().sort({ _id: 1 }).toArray(), [
      { _id: 1, x: 11 },
      { _id: 2, x: 22 }
    ]);
    await source.aggregate([{ $merge: { into: 'target', whenMatched: 'keepExisting' } }]).toArray();
    assert.equal(await target.countDocuments(), 3);
    assert.deepEqual(await target.findOne({ _id: 1 }), { _id: 1, x: 11 });
    await source
      .aggregate([
        {
          $merge: {
            into: 'target',
            let: { incoming: '$x' },
            whenMatched: [{ $set: { sum: { $add: ['$x', '$$incoming'] }, was: '$$new.x' } }]
          }
        }
      ])
      .toArray();
    assert.deepEqual(await target.findOne({ _id: 3 }), { _id: 3, x: 33, sum: 66, was: 33 });
  });

  it("$merge whenMatched 'fail' reports the insert's duplicate key error", async () => {
    await db.collection<AnyDoc>('target').insertOne({ _id: 2 });
    const error = await source
      .aggregate([{ $merge: { into: 'target', whenMatched: 'fail' } }])
      .toArray()
      .catch((e: unknown) => e);
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.code, 11000);
    assert.deepEqual(error.errorResponse.keyPattern, { _id: 1 });
    assert.deepEqual(error.errorResponse.keyValue, { _id: 2 });
    assert.equal(await db.collection('target').countDocuments(), 3, 'the other documents went in');
  });

  it("$merge whenNotMatched 'fail', unsupported combinations, and 'on' without a unique index", async () => {
    await db.collection<AnyDoc>('target').insertOne({ _id: 1 });
    assert.equal(
      await codeOf(
        source
          .aggregate([{ $merge: { into: 'target', whenMatched: 'merge', whenNotMatched: 'fail' } }])
          .toArray()
      ),
      13113
    );
    assert.equal(
      await codeOf(
        source
          .aggregate([
            { $merge: { into: 'target', whenMatched: 'fail', whenNotMatched: 'discard' } }
          ])
          .toArray()
      ),
      51181
    );
    assert.equal(
      await codeOf(source.aggregate([{ $merge: { into: 'target', on: 'x' } }]).toArray()),
      51183
    );
    await db.collection('target').createIndex({ x: 1 }, { unique: true });
    await source
      .aggregate([{ $project: { _id: 0 } }, { $merge: { into: 'target', on: 'x' } }])
      .toArray();
    assert.equal(await db.collection('target').countDocuments({ x: { $exists: true } }), 3);
  });
});

describe('test server collectionless aggregation', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient();
  });
  after(async () => {
    await started.close();
  });

  it('runs $documents and the stages after it', async () => {
    const docs = await started.client
      .db('agg')
      .aggregate([{ $documents: [{ a: 1 }, { a: 2 }, { a: 3 }] }, { $match: { a: { $gte: 2 } } }])
      .toArray();
    assert.deepEqual(docs, [{ a: 2 }, { a: 3 }]);
    const error = await started.client
      .db('agg')
      .aggregate([{ $documents: 1 }])
      .toArray()
      .catch((e: unknown) => e);
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.code, 5858203);
  });

  it('lists the sessions it knows with $listLocalSessions', async () => {
    const session = started.client.startSession();
    try {
      await started.client.db('agg').command({ ping: 1 }, { session });
      const listed = await started.client
        .db('admin')
        .aggregate([{ $listLocalSessions: {} }, { $match: { '_id.id': session.id!.id } }])
        .toArray();
      assert.equal(listed.length, 1);
      assert.deepEqual(Object.keys(listed[0]!), ['_id', 'lastUse']);
      assert.equal((listed[0]!._id as AnyDoc).uid.length(), 32);
      const all = await started.client
        .db('admin')
        .aggregate([{ $listLocalSessions: { allUsers: true } }])
        .toArray();
      assert.ok(all.length >= 1);
      const other = await started.client
        .db('admin')
        .aggregate([{ $listLocalSessions: { users: [{ user: 'u', db: 'admin' }] } }])
        .toArray();
      assert.deepEqual(other, []);
    } finally {
      await session.endSession();
    }
    const onCollection = await started.client
      .db('agg')
      .collection('c')
      .aggregate([{ $listLocalSessions: {} }])
      .toArray()
      .catch((e: unknown) => e);
    assert.ok(onCollection instanceof MongoServerError);
    assert.equal(onCollection.code, 73);
  });
});

describe('test server collectionless aggregation under 5.0', () => {
  it('does not know $documents (5.1+)', async () => {
    const started = await startWithClient({ version: '5.0' });
    try {
      const error = await started.client
        .db('agg')
        .aggregate([{ $documents: [{ a: 1 }] }])
        .toArray()
        .catch((e: unknown) => e);
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 40324);
    } finally {
      await started.close();
    }
  });
});
