/**
 * Collations on queries, writes, aggregation, indexes and collection defaults, with the cases of
 * the driver specs' CRUD collation tests (find-collation, count-collation, distinct-collation,
 * updateMany-collation, deleteOne-collation, findOneAndUpdate-collation, aggregate-collation) and
 * mongod's validation errors (collator_factory_icu.cpp).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { type CollationOptions, type Collection, type Db, MongoServerError } from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

const CASE_INSENSITIVE: CollationOptions = { locale: 'en_US', strength: 2 };

describe('test server collations', () => {
  let started: Started;
  let db: Db;
  let coll: Collection<AnyDoc>;
  before(async () => {
    started = await startWithClient();
    db = started.client.db('collation');
    coll = db.collection<AnyDoc>('c');
  });
  beforeEach(async () => {
    await db.dropDatabase();
    await coll.insertMany([
      { _id: 1, x: 11 },
      { _id: 2, x: 'ping' },
      { _id: 3, x: 'pINg' }
    ]);
  });
  after(async () => {
    await started.close();
  });

  const error = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('expected a server error'),
      (e: unknown) => {
        assert.ok(e instanceof MongoServerError, String(e));
        return e;
      }
    );

  it('matches, counts and lists distinct values under the collation', async () => {
    const ids = (docs: AnyDoc[]) => docs.map(d => d._id);
    assert.deepEqual(
      ids(await coll.find({ x: 'PING' }, { collation: CASE_INSENSITIVE }).toArray()),
      [2, 3]
    );
    assert.deepEqual(ids(await coll.find({ x: 'PING' }).toArray()), []);
    assert.deepEqual(
      ids(await coll.find({ x: { $in: ['PING'] } }, { collation: CASE_INSENSITIVE }).toArray()),
      [2, 3]
    );
    assert.deepEqual(
      ids(await coll.find({ x: { $gt: 'PIN' } }, { collation: CASE_INSENSITIVE }).toArray()),
      [2, 3]
    );
    assert.equal(await coll.countDocuments({ x: 'PING' }, { collation: CASE_INSENSITIVE }), 2);
    assert.deepEqual(await coll.distinct('x', {}, { collation: { locale: 'en', strength: 1 } }), [
      11,
      'ping'
    ]);
  });

  it('sorts under the locale, caseFirst, numericOrdering and alternate options', async () => {
    await coll.deleteMany({});
    await coll.insertMany(['b', 'B', 'a', 'A', 'á', 'a-b', 'ab', '10', '9'].map(x => ({ x })));
    const sorted = async (collation: CollationOptions, filter: AnyDoc = {}) =>
      (
        await coll.find(filter, { collation, sort: { x: 1 }, projection: { _id: 0 } }).toArray()
      ).map(d => d.x as string);
    const letters = { x: { $in: ['b', 'B', 'a', 'A', 'á'] } };
    assert.deepEqual(await sorted({ locale: 'en' }, letters), ['a', 'A', 'á', 'b', 'B']);
    assert.deepEqual(await sorted({ locale: 'en', caseFirst: 'upper' }, letters), [
      'A',
      'a',
      'á',
      'B',
      'b'
    ]);
    assert.deepEqual(await sorted({ locale: 'en', numericOrdering: true }, { x: /^\d+$/ }), [
      '9',
      '10'
    ]);
    assert.deepEqual(await sorted({ locale: 'en' }, { x: /^\d+$/ }), ['10', '9']);
    assert.equal(
      await coll.countDocuments({ x: 'ab' }, { collation: { locale: 'en', alternate: 'shifted' } }),
      2,
      "with alternate: 'shifted' punctuation is ignorable, so 'a-b' equals 'ab'"
    );
  });

  it('applies the collation of update, delete and findAndModify statements', async () => {
    const updated = await coll.updateMany(
      { x: 'PING' },
      { $set: { seen: true } },
      { collation: CASE_INSENSITIVE }
    );
    assert.equal(updated.modifiedCount, 2);
    const found = await coll.findOneAndUpdate(
      { x: 'PING' },
      { $set: { first: true } },
      { collation: CASE_INSENSITIVE, sort: { _id: -1 }, returnDocument: 'after' }
    );
    assert.equal(found!._id, 3);
    const deleted = await coll.deleteOne({ x: 'PING' }, { collation: CASE_INSENSITIVE });
    assert.equal(deleted.deletedCount, 1);
    assert.deepEqual(await coll.distinct('_id'), [1, 3]);
  });

  it('groups, matches and sorts an aggregation under its collation', async () => {
    const groups = await coll
      .aggregate(
        [
          { $match: { x: { $type: 'string' } } },
          { $group: { _id: '$x', n: { $sum: 1 } } },
          { $project: { _id: 0, n: 1, same: { $eq: ['$_id', 'PING'] } } }
        ],
        { collation: CASE_INSENSITIVE }
      )
      .toArray();
    assert.deepEqual(groups, [{ n: 2, same: true }]);
  });

  it('applies the collection default collation to queries and indexes that omit one', async () => {
    await db.createCollection('folded', { collation: CASE_INSENSITIVE });
    const folded = db.collection<AnyDoc>('folded');
    await folded.insertMany([
      { _id: 'a', x: 'ping' },
      { _id: 'b', x: 'pong' }
    ]);
    assert.equal(await folded.countDocuments({ x: 'PING' }), 1);
    assert.equal(
      await folded.countDocuments({ x: 'PING' }, { collation: { locale: 'simple' } }),
      0
    );
    assert.equal((await folded.findOne({ _id: 'A' }))!._id, 'a', 'the _id index folds case too');
    const idDup = await error(folded.insertOne({ _id: 'A' }));
    assert.equal(idDup.code, 11000);
    await folded.createIndex({ x: 1 }, { unique: true });
    const dup = await error(folded.insertOne({ x: 'PONG' }));
    assert.equal(dup.code, 11000);
    assert.match(
      dup.message,
      /^E11000 duplicate key error collection: collation\.folded index: x_1 collation: \{ locale: "en_US", caseLevel: false, caseFirst: "off", strength: 2, .*version: "57\.1" \} dup key: \{ x: "0x[0-9a-f]+" \}$/
    );
    assert.deepEqual(dup.errorResponse.keyPattern, { x: 1 });
    assert.equal((dup.errorResponse.collation as AnyDoc).locale, 'en_US');
  });

  it('enforces a unique index under its own collation', async () => {
    const names = db.collection<AnyDoc>('names');
    await names.createIndex(
      { name: 1 },
      { unique: true, collation: { locale: 'fr', strength: 1 }, name: 'name_fr' }
    );
    await names.insertOne({ name: 'été' });
    const dup = await error(names.insertOne({ name: 'ETE' }));
    assert.equal(dup.code, 11000);
    await names.insertOne({ name: 'etf' });
  });

  it("uses a view's collation, and refuses another one", async () => {
    await db.createCollection('v', { viewOn: 'c', pipeline: [], collation: CASE_INSENSITIVE });
    const view = db.collection<AnyDoc>('v');
    assert.equal(await view.countDocuments({ x: 'PING' }), 2);
    const refused = await error(view.find({}, { collation: { locale: 'fr' } }).toArray());
    assert.equal(refused.code, 167);
    assert.equal(refused.message, "Cannot override a view's default collation");
  });

  it('refuses invalid collations as mongod does', async () => {
    const cases: [AnyDoc, number, string][] = [
      [
        { locale: 'en', foo: 1 },
        9,
        'Collation spec contains unknown field. Collation spec: { locale: "en", foo: 1 }'
      ],
      [{ locale: 'xx' }, 2, `Field 'locale' is invalid in: { locale: "xx" }`],
      [
        { locale: 'en-US' },
        2,
        `Field 'locale' is invalid in: { locale: "en-US" }. Did you mean 'en_US'?`
      ],
      [{ locale: 'en', strength: 6 }, 9, "Field 'strength' must be an integer 1 through 5. Got: 6"],
      [
        { locale: 'simple', strength: 1 },
        9,
        'If locale=simple, no other fields should be present in: { locale: "simple", strength: 1 }'
      ],
      [
        { locale: 'en', caseFirst: 'upper', strength: 1 },
        2,
        "'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2 in: "
      ],
      [
        { locale: 'en', version: '1.0' },
        161,
        'Requested collation version 1.0 but the only available collator version was 57.1.'
      ],
      [{ strength: 1 }, 4, 'Missing expected field "locale"']
    ];
    for (const [collation, code, message] of cases) {
      const e = await error(db.command({ find: 'c', filter: {}, collation }));
      assert.equal(e.code, code, JSON.stringify(collation));
      assert.ok(e.message.startsWith(message), `${e.message} / ${message}`);
    }
  });
});
