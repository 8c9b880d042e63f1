import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type BSON, type Collection, type MongoServerError } from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

describe('test server queries, cursors and aggregation', () => {
  let started: Started;
  let coll: Collection<AnyDoc>;
  before(async () => {
    started = await startWithClient();
    coll = started.client.db('q').collection<AnyDoc>('people');
    await coll.insertMany(
      Array.from({ length: 250 }, (_, i) => ({
        _id: i,
        n: i % 10,
        name: `p${i}`,
        tags: i % 2 ? ['odd'] : ['even', 'x']
      }))
    );
  });
  after(async () => {
    await started.close();
  });

  it('filters with operators, sorts, skips, limits and projects', async () => {
    const docs = await coll
      .find(
        { n: { $in: [1, 2] }, tags: 'odd' },
        { sort: { _id: -1 }, skip: 1, limit: 3, projection: { name: 1, _id: 0 } }
      )
      .toArray();
    assert.deepEqual(docs, [{ name: 'p231' }, { name: 'p221' }, { name: 'p211' }]);
  });

  it('returns batches through getMore until the cursor is exhausted', async () => {
    const cursor = coll.find({}, { batchSize: 100 });
    let count = 0;
    for await (const _ of cursor) count++;
    assert.equal(count, 250);
    assert.equal(cursor.closed, true);
  });

  it('honours batchSize 0, singleBatch and hint', async () => {
    const empty = await started.client.db('q').command({ find: 'people', batchSize: 0 });
    assert.equal(empty.cursor.firstBatch.length, 0);
    assert.notEqual(String(empty.cursor.id), '0', 'batchSize 0 leaves an open cursor');
    await started.client.db('q').command({ killCursors: 'people', cursors: [empty.cursor.id] });
    const single = await started.client
      .db('q')
      .command({ find: 'people', batchSize: 5, singleBatch: true });
    assert.equal(single.cursor.firstBatch.length, 5);
    assert.equal(String(single.cursor.id), '0', 'singleBatch closes the cursor');
    const hinted = await coll.find({ n: 1 }, { hint: { _id: 1 } }).toArray();
    assert.equal(hinted.length, 25);
    await assert.rejects(
      coll.find({ n: 1 }, { hint: 'no_such_index' }).toArray(),
      (e: MongoServerError) => {
        assert.equal(e.code, 2);
        assert.match(e.message, /hint provided does not correspond to an existing index/);
        return true;
      }
    );
  });

  it('kills cursors and then answers CursorNotFound for them', async () => {
    const reply = await started.client.db('q').command({ find: 'people', batchSize: 2 });
    const id = reply.cursor.id as BSON.Long;
    assert.ok(!id.isZero());
    const killed = await started.client.db('q').command({ killCursors: 'people', cursors: [id] });
    assert.equal(killed.cursorsKilled.length, 1);
    await assert.rejects(
      started.client.db('q').command({ getMore: id, collection: 'people' }),
      (e: MongoServerError) => e.code === 43 && e.codeName === 'CursorNotFound'
    );
  });

  it('returns a missing collection as an empty result', async () => {
    assert.deepEqual(await started.client.db('q').collection<AnyDoc>('none').find().toArray(), []);
  });

  it("keeps mongod's type bracketing: $gt on a number never matches strings", async () => {
    const mixed = started.client.db('q').collection<AnyDoc>('mixed');
    await mixed.insertMany([
      { _id: 1, v: 5 },
      { _id: 2, v: '7' },
      { _id: 3, v: 9.5 },
      { _id: 4, v: null },
      { _id: 5 }
    ]);
    assert.deepEqual(
      (await mixed.find({ v: { $gt: 4 } }).toArray()).map(d => d._id),
      [1, 3]
    );
    assert.deepEqual(
      (await mixed.find({ v: null }).toArray()).map(d => d._id),
      [4, 5]
    );
    assert.deepEqual(
      (await mixed.find().sort({ v: 1, _id: 1 }).toArray()).map(d => d._id),
      [4, 5, 1, 3, 2]
    );
  });

  it('runs aggregation stages: $match, $group, $sort, $count, $project', async () => {
    const groups = await coll
      .aggregate([
        { $match: { n: { $lt: 3 } } },
        { $group: { _id: '$n', count: { $sum: 1 } } },
        { $sort: { _id: 1 } }
      ])
      .toArray();
    assert.deepEqual(groups, [
      { _id: 0, count: 25 },
      { _id: 1, count: 25 },
      { _id: 2, count: 25 }
    ]);
    assert.deepEqual(await coll.aggregate([{ $match: { n: 0 } }, { $count: 'total' }]).toArray(), [
      { total: 25 }
    ]);
  });

  it('samples with $sample and splits with $bucketAuto', async () => {
    const sample = await coll.aggregate([{ $sample: { size: 10 } }]).toArray();
    assert.equal(sample.length, 10);
    assert.equal(new Set(sample.map(d => d._id)).size, 10);
    const buckets = await coll
      .aggregate([{ $bucketAuto: { groupBy: '$_id', buckets: 4 } }])
      .toArray();
    assert.equal(buckets.length, 4);
    assert.equal(
      buckets.reduce((sum, b) => sum + b.count, 0),
      250
    );
    assert.equal(buckets[0]!._id.min, 0);
    assert.equal(buckets.at(-1)!._id.max, 249);
    for (let i = 1; i < buckets.length; i++)
      assert.equal(buckets[i]!._id.min, buckets[i - 1]!._id.max);
  });

  it('reports $collStats storage stats', async () => {
    const [stats] = await coll.aggregate([{ $collStats: { storageStats: {} } }]).toArray();
    assert.equal(stats!.ns, 'q.people');
    assert.equal(stats!.storageStats.count, 250);
    assert.ok(stats!.storageStats.size > 0);
  });

  it("answers an unknown stage with mongod's error 40324", async () => {
    await assert.rejects(coll.aggregate([{ $nope: {} }]).toArray(), (e: MongoServerError) => {
      assert.equal(e.code, 40324);
      assert.equal(e.message, "Unrecognized pipeline stage name: '$nope'");
      return true;
    });
  });

  it('answers an unknown query operator with BadValue', async () => {
    await assert.rejects(
      coll.find({ n: { $nope: 1 } }).toArray(),
      (e: MongoServerError) => e.code === 2
    );
  });
});
