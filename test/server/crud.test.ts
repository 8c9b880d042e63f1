import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import {
  BSON,
  type Collection,
  Decimal128,
  type Document,
  Double,
  Int32,
  Long,
  MongoBulkWriteError,
  MongoServerError,
  ObjectId
} from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

describe('test server CRUD through the driver', () => {
  let started: Started;
  let collection: Collection<AnyDoc>;
  let counter = 0;
  before(async () => {
    started = await startWithClient();
  });
  after(async () => {
    await started.close();
  });
  beforeEach(() => {
    collection = started.client.db('crud').collection<AnyDoc>(`c${++counter}`);
  });

  it('round-trips every BSON type and the exact field order, numeric-looking keys included', async () => {
    const doc = new Map<string, unknown>([
      ['_id', new ObjectId()],
      ['int', new Int32(1)],
      ['double', new Double(1)],
      ['long', Long.fromString('9007199254740993')],
      ['decimal', Decimal128.fromString('1.10')],
      ['negZero', new Double(-0)],
      ['nan', new Double(NaN)],
      ['date', new Date(1_700_000_000_123)],
      ['ts', new BSON.Timestamp({ t: 5, i: 6 })],
      ['bin', new BSON.Binary(Buffer.from('xyz'), 0)],
      ['uuid', new BSON.UUID()],
      ['regex', new BSON.BSONRegExp('^a', 'im')],
      ['min', new BSON.MinKey()],
      ['max', new BSON.MaxKey()],
      [
        'nested',
        new Map<string, unknown>([
          ['10', 'a'],
          ['9', 'b'],
          ['z', null],
          ['a', [1, 'x', { k: true }]]
        ])
      ]
    ]);
    const bytes = BSON.serialize(doc);
    await collection.insertOne(BSON.deserialize(bytes, { promoteValues: false }) as Document);
    // Compare bytes, since any JS object decode would reorder "10" and "9" by itself.
    const insertedRaw = BSON.serialize(doc);
    await collection.deleteMany({});
    await started.client
      .db('crud')
      .command({ insert: collection.collectionName, documents: [doc] });
    const raw = (await collection.find({}, { raw: true }).toArray()) as unknown as Buffer[];
    assert.equal(raw.length, 1);
    assert.ok(Buffer.from(raw[0]!).equals(insertedRaw));
  });

  it('generates an ObjectId _id and moves _id to the front of inserted documents', async () => {
    await started.client
      .db('crud')
      .command(
        { insert: collection.collectionName, documents: [{ a: 1, _id: 7 }, { b: 2 }] },
        { raw: false }
      );
    const docs = await collection.find({}, { sort: { $natural: 1 } }).toArray();
    assert.deepEqual(Object.keys(docs[0]!), ['_id', 'a']);
    assert.equal(docs[1]!.b, 2);
  });

  it("reports a duplicate _id with mongod's write error shape", async () => {
    await collection.insertOne({ _id: 1 });
    const error = await collection.insertOne({ _id: 1 }).catch((e: unknown) => e);
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.code, 11000);
    assert.deepEqual(error.keyPattern, { _id: 1 });
    assert.deepEqual(error.keyValue, { _id: 1 });
    assert.equal(
      error.errmsg,
      `E11000 duplicate key error collection: crud.${collection.collectionName} index: _id_ dup key: { _id: 1 }`
    );
  });

  it('treats 1, 1.0 and NumberLong(1) as the same _id', async () => {
    await collection.insertOne({ _id: new Int32(1) });
    for (const id of [new Double(1), Long.fromNumber(1)]) {
      await assert.rejects(
        collection.insertOne({ _id: id }),
        (e: MongoServerError) => e.code === 11000
      );
    }
    assert.equal(await collection.countDocuments({ _id: Long.fromNumber(1) }), 1);
  });

  it('stops an ordered insertMany at the first error and continues an unordered one', async () => {
    await collection.insertOne({ _id: 2 });
    const ordered = await collection
      .insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }])
      .catch((e: unknown) => e);
    assert.ok(ordered instanceof MongoBulkWriteError);
    assert.equal(ordered.result.insertedCount, 1);
    assert.equal(
      ordered.writeErrors instanceof Array
        ? ordered.writeErrors[0]!.index
        : (ordered.writeErrors as { index: number }).index,
      1
    );
    assert.equal(await collection.countDocuments(), 2);
    await collection.deleteMany({});
    await collection.insertOne({ _id: 2 });
    const unordered = await collection
      .insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }, { _id: 2 }], { ordered: false })
      .catch((e: unknown) => e);
    assert.ok(unordered instanceof MongoBulkWriteError);
    assert.equal(unordered.result.insertedCount, 2);
    const indexes = (
      Array.isArray(unordered.writeErrors) ? unordered.writeErrors : [unordered.writeErrors]
    ).map(e => e.index);
    assert.deepEqual(indexes, [1, 3]);
  });

  it('updates with operators, upserts, multi updates and arrayFilters', async () => {
    await collection.insertMany([
      { _id: 1, n: 1, tags: ['a'], grades: [80, 90, 95] },
      { _id: 2, n: 2, tags: [], grades: [70] }
    ]);
    const one = await collection.updateOne({ _id: 1 }, {
      $inc: { n: 5 },
      $push: { tags: 'b' }
    } as Document);
    assert.equal(one.matchedCount, 1);
    assert.equal(one.modifiedCount, 1);
    assert.deepEqual(await collection.findOne({ _id: 1 }, { projection: { n: 1, tags: 1 } }), {
      _id: 1,
      n: 6,
      tags: ['a', 'b']
    });
    const many = await collection.updateMany({}, { $set: { seen: true } });
    assert.equal(many.modifiedCount, 2);
    const filtered = await collection.updateOne(
      { _id: 1 },
      { $set: { 'grades.$[g]': 100 } },
      { arrayFilters: [{ g: { $gte: 90 } }] }
    );
    assert.equal(filtered.modifiedCount, 1);
    assert.deepEqual((await collection.findOne({ _id: 1 }))!.grades, [80, 100, 100]);
    const upsert = await collection.updateOne(
      { _id: 3, kind: 'x' },
      { $set: { n: 3 } },
      { upsert: true }
    );
    assert.equal(upsert.upsertedCount, 1);
    assert.equal(upsert.upsertedId, 3);
    assert.deepEqual(await collection.findOne({ _id: 3 }), { _id: 3, kind: 'x', n: 3 });
  });

  it('reports a no-op update as matched but not modified', async () => {
    await collection.insertOne({ _id: 1, a: 1 });
    const result = await collection.updateOne({ _id: 1 }, { $set: { a: 1 } });
    assert.equal(result.matchedCount, 1);
    assert.equal(result.modifiedCount, 0);
  });

  it('creates new fields in lexicographic order, whatever order $set lists them', async () => {
    await collection.insertOne({ _id: 1, m: 0 });
    await collection.updateOne({ _id: 1 }, { $set: { z: 1, b: 2, a: { y: 1, c: 2 } } });
    const doc = await collection.findOne({ _id: 1 });
    assert.deepEqual(Object.keys(doc!), ['_id', 'm', 'a', 'b', 'z']);
  });

  it('applies pipeline updates and replacements', async () => {
    await collection.insertOne({ _id: 1, a: 2, b: 3 });
    await collection.updateOne({ _id: 1 }, [
      { $set: { sum: { $add: ['$a', '$b'] } } },
      { $unset: 'b' }
    ]);
    assert.deepEqual(await collection.findOne({ _id: 1 }), { _id: 1, a: 2, sum: 5 });
    await collection.replaceOne({ _id: 1 }, { only: true });
    assert.deepEqual(await collection.findOne({ _id: 1 }), { _id: 1, only: true });
  });

  it('refuses to change _id with ImmutableField', async () => {
    await collection.insertOne({ _id: 1 });
    await assert.rejects(
      collection.updateOne({ _id: 1 }, { $set: { _id: 2 } }),
      (e: MongoServerError) => e.code === 66
    );
  });

  it("rejects unknown update operators with mongod's message", async () => {
    await collection.insertOne({ _id: 1 });
    await assert.rejects(
      collection.updateOne({ _id: 1 }, { $nope: { a: 1 } } as Document),
      (e: MongoServerError) => {
        assert.equal(e.code, 9);
        assert.match(e.message, /Unknown modifier: \$nope/);
        return true;
      }
    );
  });

  it('deletes one or many documents', async () => {
    await collection.insertMany([
      { _id: 1, k: 1 },
      { _id: 2, k: 1 },
      { _id: 3, k: 2 }
    ]);
    assert.equal((await collection.deleteOne({ k: 1 })).deletedCount, 1);
    assert.equal((await collection.deleteMany({})).deletedCount, 2);
    assert.equal((await collection.deleteOne({ k: 9 })).deletedCount, 0);
  });

  it('runs findOneAndUpdate, findOneAndReplace and findOneAndDelete', async () => {
    await collection.insertMany([
      { _id: 1, n: 1 },
      { _id: 2, n: 2 }
    ]);
    const before = await collection.findOneAndUpdate(
      { n: { $gte: 1 } },
      { $inc: { n: 10 } },
      { sort: { n: -1 } }
    );
    assert.deepEqual(before, { _id: 2, n: 2 });
    const after = await collection.findOneAndUpdate(
      { _id: 1 },
      { $inc: { n: 1 } },
      { returnDocument: 'after' }
    );
    assert.deepEqual(after, { _id: 1, n: 2 });
    const upserted = await collection.findOneAndUpdate(
      { _id: 9 },
      { $set: { n: 9 } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: true }
    );
    assert.deepEqual(upserted.value, { _id: 9, n: 9 });
    assert.equal(upserted.lastErrorObject?.upserted, 9);
    assert.deepEqual(
      await collection.findOneAndReplace({ _id: 1 }, { r: 1 }, { returnDocument: 'after' }),
      { _id: 1, r: 1 }
    );
    assert.deepEqual(await collection.findOneAndDelete({ _id: 2 }), { _id: 2, n: 12 });
    assert.equal(await collection.findOneAndDelete({ _id: 2 }), null);
  });

  it('executes bulkWrite with mixed operations', async () => {
    const result = await collection.bulkWrite([
      { insertOne: { document: { _id: 1, a: 1 } } },
      { insertOne: { document: { _id: 2, a: 2 } } },
      { updateOne: { filter: { _id: 1 }, update: { $set: { a: 10 } } } },
      { replaceOne: { filter: { _id: 2 }, replacement: { b: 1 } } },
      { updateOne: { filter: { _id: 3 }, update: { $set: { a: 3 } }, upsert: true } },
      { deleteOne: { filter: { _id: 1 } } }
    ]);
    assert.equal(result.insertedCount, 2);
    assert.equal(result.modifiedCount, 2);
    assert.equal(result.upsertedCount, 1);
    assert.equal(result.deletedCount, 1);
    assert.deepEqual(await collection.find().sort({ _id: 1 }).toArray(), [
      { _id: 2, b: 1 },
      { _id: 3, a: 3 }
    ]);
  });

  it('counts and lists distinct values', async () => {
    await collection.insertMany([{ a: 1, t: ['x', 'y'] }, { a: 1, t: ['y'] }, { a: 2 }]);
    assert.equal(await collection.estimatedDocumentCount(), 3);
    assert.equal(await collection.countDocuments({ a: 1 }), 2);
    assert.equal(await collection.countDocuments({}, { skip: 1, limit: 1 }), 1);
    assert.deepEqual((await collection.distinct('a')).sort(), [1, 2]);
    assert.deepEqual((await collection.distinct('t')).sort(), ['x', 'y']);
  });

  it("rejects an unknown field in a command with IDL's error", async () => {
    await assert.rejects(
      started.client.db('crud').command({
        update: collection.collectionName,
        updates: [{ q: {}, u: { $set: { a: 1 } } }],
        bogus: 1
      }),
      (e: MongoServerError) =>
        e.code === 40415 && e.message === "BSON field 'update.bogus' is an unknown field."
    );
  });

  it('refuses options it does not implement instead of ignoring them', async () => {
    // French secondary ordering on a locale without it cannot be expressed with Node's ICU.
    await assert.rejects(
      collection.find({}, { collation: { locale: 'en', backwards: true } }).toArray(),
      (e: MongoServerError) => e.code === 238
    );
  });
});
