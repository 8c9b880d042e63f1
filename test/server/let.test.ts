/**
 * `let` on find, aggregate, update, delete and findAndModify, and the update statement rules of
 * the driver specs' CRUD tests (crud/tests/unified/*-let.json, updateOne-sort, aggregate).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { type Collection, MongoServerError } from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

describe('test server let variables', () => {
  let started: Started;
  let coll: Collection<AnyDoc>;
  before(async () => {
    started = await startWithClient();
    coll = started.client.db('let').collection<AnyDoc>('c');
  });
  beforeEach(async () => {
    await coll.deleteMany({});
    await coll.insertMany([{ _id: 1 }, { _id: 2, x: 'foo' }]);
  });
  after(async () => {
    await started.close();
  });

  const idEquals = { $expr: { $eq: ['$_id', '$$id'] } };

  it('binds find let variables in $expr and projection expressions', async () => {
    assert.deepEqual(await coll.find(idEquals, { let: { id: 1 } }).toArray(), [{ _id: 1 }]);
    assert.deepEqual(
      await coll
        .find({ _id: 2 }, { let: { tag: 'v' }, projection: { t: '$$tag', _id: 0 } })
        .toArray(),
      [{ t: 'v' }]
    );
  });

  it('binds aggregate let variables in every stage, nested $expr included', async () => {
    const result = await coll
      .aggregate(
        [
          { $match: { $and: [{ $expr: { $eq: ['$_id', '$$id'] } }] } },
          { $project: { _id: 0, x: '$$x', y: '$$y' } }
        ],
        { let: { id: 2, x: 'foo', y: { $concat: ['$$x', 'bar'] } } }
      )
      .toArray();
    assert.deepEqual(result, [{ x: 'foo', y: 'foobar' }]);
  });

  it('binds update let variables in the filter and in a pipeline update', async () => {
    const result = await coll.updateOne(idEquals, [{ $set: { x: '$$x', y: '$$y' } }], {
      let: { id: 1, x: 'foo', y: { $literal: 'bar' } }
    });
    assert.equal(result.modifiedCount, 1);
    assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, x: 'foo', y: 'bar' });
    const many = await coll.updateMany(
      { $expr: { $eq: ['$x', '$$x'] } },
      [{ $set: { seen: '$$seen' } }],
      { let: { x: 'foo', seen: true } }
    );
    assert.equal(many.modifiedCount, 2);
  });

  it('binds delete let variables (deleteOne and deleteMany)', async () => {
    assert.equal((await coll.deleteOne(idEquals, { let: { id: 1 } })).deletedCount, 1);
    assert.equal(
      (await coll.deleteMany({ $expr: { $eq: ['$x', '$$x'] } }, { let: { x: 'foo' } }))
        .deletedCount,
      1
    );
    assert.equal(await coll.countDocuments(), 0);
  });

  it('binds findAndModify let variables in the query and the pipeline update', async () => {
    const updated = await coll.findOneAndUpdate(idEquals, [{ $set: { x: '$$x' } }], {
      let: { id: 1, x: 'set' },
      returnDocument: 'after'
    });
    assert.deepEqual(updated, { _id: 1, x: 'set' });
    const deleted = await coll.findOneAndDelete(idEquals, { let: { id: 2 } });
    assert.deepEqual(deleted, { _id: 2, x: 'foo' });
  });

  it('binds an update statement c constant in its pipeline, and refuses c without one', async () => {
    const reply = await started.client.db('let').command({
      update: 'c',
      updates: [{ q: { _id: 1 }, u: [{ $set: { z: '$$z' } }], c: { z: 5 } }]
    });
    assert.equal(reply.nModified, 1);
    assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, z: 5 });
    const refused = await started.client.db('let').command({
      update: 'c',
      updates: [{ q: { _id: 1 }, u: { $set: { z: 6 } }, c: { z: 6 } }]
    });
    assert.equal(refused.writeErrors[0].code, 51198);
  });

  it('refuses let expressions that read the document, and unknown variables', async () => {
    const fieldAccess = await coll
      .find({}, { let: { v: '$x' } })
      .toArray()
      .catch((e: unknown) => e);
    assert.ok(fieldAccess instanceof MongoServerError);
    assert.equal(fieldAccess.code, 4890500);
    const undefinedVariable = await coll
      .find({ $expr: { $eq: ['$_id', '$$nope'] } })
      .toArray()
      .catch((e: unknown) => e);
    assert.ok(undefinedVariable instanceof MongoServerError);
    assert.equal(undefinedVariable.code, 17276);
    assert.equal(undefinedVariable.message, 'Use of undefined variable: nope');
  });

  it('keeps the original _id when a pipeline update replaces the root without one', async () => {
    await coll.insertOne({ _id: 3, t: { u: 1 } });
    const result = await coll.updateOne({ _id: 3 }, [{ $replaceRoot: { newRoot: '$t' } }]);
    assert.equal(result.modifiedCount, 1);
    assert.deepEqual(await coll.findOne({ _id: 3 }), { _id: 3, u: 1 });
  });

  it('fails the whole update command on a statement field 7.0 does not know (sort)', async () => {
    const error = await started.client
      .db('let')
      .command({
        update: 'c',
        updates: [
          { q: { _id: 1 }, u: { $set: { a: 1 } } },
          { q: {}, u: { $set: { b: 1 } }, sort: { _id: -1 } }
        ]
      })
      .catch((e: unknown) => e);
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.code, 40415);
    assert.equal(error.message, "BSON field 'update.updates.sort' is an unknown field.");
    assert.equal(await coll.countDocuments({ a: 1 }), 0, 'no statement ran');
  });
});

describe('test server let variables under 4.4', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient({ version: '4.4' });
    await started.client.db('let').collection<AnyDoc>('c').insertOne({ _id: 1 });
  });
  after(async () => {
    await started.close();
  });

  it('refuses let as 4.4 did', async () => {
    const coll = started.client.db('let').collection<AnyDoc>('c');
    const find = await coll
      .find({ _id: 1 }, { let: { x: 1 } })
      .toArray()
      .catch((e: unknown) => e);
    assert.ok(find instanceof MongoServerError);
    assert.equal(find.code, 9);
    assert.match(find.message, /Unrecognized field 'let'/);
    const del = await coll.deleteOne({ _id: 1 }, { let: { id: 1 } }).catch((e: unknown) => e);
    assert.ok(del instanceof MongoServerError);
    assert.equal(del.code, 40415);
    assert.match(del.message, /'delete\.let' is an unknown field/);
  });
});
