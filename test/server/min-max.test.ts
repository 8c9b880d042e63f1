import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Binary,
  type Collection,
  Decimal128,
  Double,
  type FindOptions,
  Int32,
  Long,
  MaxKey,
  MinKey,
  type MongoServerError,
  ObjectId
} from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

/** `_id`s of many BSON types, listed in mongod's index order. */
const ORDERED_IDS: unknown[] = [
  new MinKey(),
  null,
  new Int32(-5),
  new Double(1.5),
  new Long(2),
  Decimal128.fromString('2.5'),
  new Int32(3),
  '',
  'a',
  'b',
  { x: 1 },
  { x: 2 },
  new Binary(Buffer.from([1]), 0),
  new Binary(Buffer.from([1, 2]), 0),
  new ObjectId('000000000000000000000001'),
  new ObjectId('000000000000000000000002'),
  false,
  true,
  new Date(0),
  new Date(1000),
  new MaxKey()
];

function rejectsWith(code: number, reason: RegExp) {
  return (error: MongoServerError) => {
    assert.equal(error.code, code, error.message);
    assert.match(error.message, reason);
    return true;
  };
}

describe('test server find min/max', () => {
  let started: Started;
  let ids: Collection<AnyDoc>;
  before(async () => {
    started = await startWithClient();
    ids = started.client.db('mm').collection<AnyDoc>('ids');
    // Inserted out of order, so index order cannot come from natural order by chance. Through
    // the insert command: the driver's helpers replace a null _id with a new ObjectId.
    const docs = ORDERED_IDS.map((_id, at) => ({ _id, at }));
    await started.client.db('mm').command({
      insert: 'ids',
      documents: [...docs.filter((_, i) => i % 2 === 1), ...docs.filter((_, i) => i % 2 === 0)]
    });
  });
  after(async () => {
    await started.close();
  });

  async function positions(options: FindOptions, coll = ids): Promise<number[]> {
    return (await coll.find({}, options).toArray()).map(d => d.at as number);
  }

  it('reads _id ranges in BSON order across types, min inclusive and max exclusive', async () => {
    const hint = { _id: 1 };
    assert.deepEqual(
      await positions({ hint, min: { _id: new Long(2) }, max: { _id: 'b' } }),
      [4, 5, 6, 7, 8]
    );
    // 2 as an Int32 bound is the same key as the Long 2 stored.
    assert.deepEqual(await positions({ hint, min: { _id: 2 }, max: { _id: 3 } }), [4, 5]);
    assert.deepEqual(
      await positions({ hint, min: { _id: { x: 1 } }, max: { _id: false } }),
      [10, 11, 12, 13, 14, 15]
    );
  });

  it('treats an omitted bound as MinKey (inclusive) or MaxKey (exclusive), as mongod does', async () => {
    const all = ORDERED_IDS.map((_, i) => i);
    const hint = { _id: 1 };
    assert.deepEqual(await positions({ hint, max: { _id: 'a' } }), all.slice(0, 8));
    // A MaxKey _id is the end bound itself, so it is never inside [min, MaxKey).
    assert.deepEqual(await positions({ hint, min: { _id: 'a' } }), all.slice(8, -1));
    assert.deepEqual(await positions({ hint, min: { _id: new MinKey() } }), all.slice(0, -1));
    assert.deepEqual(
      await positions({ hint, min: {}, max: { _id: new MaxKey() } }),
      all.slice(0, -1)
    );
  });

  it('splits a collection into ranges that read every document exactly once', async () => {
    const cuts = [
      new Int32(-5),
      'a',
      { x: 2 },
      new ObjectId('000000000000000000000002'),
      new Date(0)
    ];
    const bounds = [undefined, ...cuts, undefined];
    const seen: number[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const options: FindOptions = { hint: { _id: 1 } };
      if (bounds[i] !== undefined) options.min = { _id: bounds[i] };
      if (bounds[i + 1] !== undefined) options.max = { _id: bounds[i + 1] };
      seen.push(...(await positions(options)));
    }
    assert.deepEqual(seen, ORDERED_IDS.map((_, i) => i).slice(0, -1));
  });

  it('applies filter, sort, skip, limit and projection inside the range', async () => {
    const docs = await ids
      .find(
        { at: { $gte: 3 } },
        {
          hint: { _id: 1 },
          min: { _id: 0 },
          max: { _id: 'zz' },
          sort: { at: -1 },
          skip: 1,
          limit: 3,
          projection: { _id: 0, at: 1 }
        }
      )
      .toArray();
    assert.deepEqual(docs, [{ at: 8 }, { at: 7 }, { at: 6 }]);
  });

  it('sees writes made after a range read (inserts, deletes, replacements)', async () => {
    const coll = started.client.db('mm').collection<AnyDoc>('writes');
    await coll.insertMany([1, 2, 3, 4].map(i => ({ _id: i, at: i })));
    const range = { hint: { _id: 1 }, min: { _id: 2 }, max: { _id: 10 } };
    assert.deepEqual(await positions(range, coll), [2, 3, 4]);
    await coll.insertOne({ _id: 2.5, at: 2.5 });
    await coll.deleteOne({ _id: 3 });
    await coll.replaceOne({ _id: 4 }, { at: 40 });
    assert.deepEqual(await positions(range, coll), [2, 2.5, 40]);
  });

  it('uses descending and compound indexes in their key order', async () => {
    const coll = started.client.db('mm').collection<AnyDoc>('compound');
    await coll.insertMany([
      { a: 1, b: 1, at: 0 },
      { a: 1, b: 2, at: 1 },
      { a: 2, b: 1, at: 2 },
      { a: 2, b: 2, at: 3 },
      { a: 2, at: 4 }
    ]);
    await coll.createIndex({ a: 1, b: -1 });
    const hint = { a: 1, b: -1 };
    // Index order: (1,2) (1,1) (2,2) (2,1) (2,null).
    assert.deepEqual(await positions({ hint, min: { a: 1, b: 2 } }, coll), [1, 0, 3, 2, 4]);
    assert.deepEqual(await positions({ hint, min: { a: 2, b: 1 } }, coll), [2, 4]);
    assert.deepEqual(await positions({ hint, max: { a: 1, b: 1.5 } }, coll), [1]);
    assert.deepEqual(
      await positions({ hint, min: { a: 2, b: null }, max: { a: 3, b: 0 } }, coll),
      [4]
    );
    await coll.createIndex({ a: -1 });
    assert.deepEqual(
      await positions({ hint: { a: -1 }, min: { a: 2 }, max: { a: 1 } }, coll),
      [2, 3, 4]
    );
  });

  it('returns a multikey document once, at its first key in range', async () => {
    const coll = started.client.db('mm').collection<AnyDoc>('multikey');
    await coll.insertMany([
      { _id: 1, tags: [5, 1], at: 1 },
      { _id: 2, tags: 3, at: 2 },
      { _id: 3, tags: [], at: 3 }
    ]);
    await coll.createIndex({ tags: 1 });
    assert.deepEqual(await positions({ hint: { tags: 1 }, min: { tags: 0 } }, coll), [1, 2]);
    assert.deepEqual(await positions({ hint: { tags: 1 }, min: { tags: 2 } }, coll), [2, 1]);
    // The empty array's key (undefined) sorts below null.
    assert.deepEqual(await positions({ hint: { tags: 1 }, max: { tags: null } }, coll), [3]);
  });

  it('reads a clustered collection by _id, with an omitted max unbounded', async () => {
    const db = started.client.db('mm');
    await db.createCollection('clustered', { clusteredIndex: { key: { _id: 1 }, unique: true } });
    const coll = db.collection<AnyDoc>('clustered');
    await coll.insertMany([3, 1, 2].map(i => ({ _id: i, at: i })));
    await coll.insertOne({ _id: new MaxKey(), at: 9 });
    assert.deepEqual(await positions({ hint: { _id: 1 }, min: { _id: 2 } }, coll), [2, 3, 9]);
    assert.deepEqual(await positions({ hint: { _id: 1 }, max: { _id: 3 } }, coll), [1, 2]);
    await assert.rejects(
      coll.find({}, { hint: { _id: 1 }, min: { _id: 3 }, max: { _id: 3 } }).toArray(),
      rejectsWith(6137401, /max\(\) must be greater than min\(\)/)
    );
    await assert.rejects(
      coll.find({}, { hint: { _id: 1 }, min: { at: 1 } }).toArray(),
      rejectsWith(6137400, /clustered index is not compatible/)
    );
  });

  it('refuses bounds without a usable hint', async () => {
    await assert.rejects(
      ids.find({}, { min: { _id: 1 } }).toArray(),
      rejectsWith(51173, /a hint of which index to use must be provided/)
    );
    await assert.rejects(
      ids.find({}, { max: { _id: 1 }, hint: { nope: 1 } }).toArray(),
      rejectsWith(2, /hint provided does not correspond to an existing index/)
    );
    await assert.rejects(
      ids.find({}, { min: { _id: 1 }, hint: { $natural: 1 } }).toArray(),
      rejectsWith(291, /min and max are incompatible with \$natural/)
    );
  });

  it('refuses bounds that do not fit the index, or an empty range', async () => {
    const coll = started.client.db('mm').collection<AnyDoc>('compound');
    await assert.rejects(
      coll.find({}, { hint: { a: 1, b: -1 }, min: { a: 1 } }).toArray(),
      rejectsWith(51174, /The index chosen is not compatible with min\/max/)
    );
    await assert.rejects(
      coll.find({}, { hint: { a: 1, b: -1 }, min: { b: 1, a: 1 } }).toArray(),
      rejectsWith(51174, /not compatible/)
    );
    await assert.rejects(
      coll.find({}, { hint: { a: 1, b: -1 }, min: { a: 1, b: 1 }, max: { a: 1 } }).toArray(),
      rejectsWith(51176, /^min and max must have the same field names$/)
    );
    for (const [min, max] of [
      [2, 2],
      [3, 2],
      [1, new Double(1)],
      ['a', new Int32(5)]
    ]) {
      await assert.rejects(
        ids.find({}, { hint: { _id: 1 }, min: { _id: min }, max: { _id: max } }).toArray(),
        rejectsWith(51175, /min\(\) does not come before the value provided for max\(\)/)
      );
    }
    // On a descending index the bounds go the other way round.
    await assert.rejects(
      coll.find({}, { hint: { a: -1 }, min: { a: 1 }, max: { a: 2 } }).toArray(),
      rejectsWith(51175, /does not come before/)
    );
    await assert.rejects(
      started.client.db('mm').command({ find: 'ids', hint: { _id: 1 }, min: 5 }),
      rejectsWith(14, /is the wrong type/)
    );
  });

  it('answers an empty result for a missing collection and 168 for a view', async () => {
    const db = started.client.db('mm');
    assert.deepEqual(
      await positions({ hint: { _id: 1 }, min: { _id: 1 } }, db.collection<AnyDoc>('missing')),
      []
    );
    await db.createCollection('idsView', { viewOn: 'ids', pipeline: [] });
    await assert.rejects(
      db
        .collection<AnyDoc>('idsView')
        .find({}, { hint: { _id: 1 }, max: { _id: 1 } })
        .toArray(),
      rejectsWith(168, /^Option max not supported in aggregation\.$/)
    );
  });
});
