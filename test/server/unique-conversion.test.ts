/**
 * Unique indexes whose values move: collMod's two-step conversion of an index to unique
 * (prepareUnique, then unique; jstests/core/ddl/collmod_convert_to_unique_violations.js), its
 * oplog entries (OpObserverImpl::onCollMod), the versions that lack it, and unique index builds
 * over existing duplicates (startIndexBuild + abortIndexBuild, "Index build failed: …").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type BSON, type Db, type Document, MongoServerError } from 'mongodb';

import {
  type AnyDoc,
  newestOplogTs,
  oplogEntriesAfter,
  type Started,
  startWithClient
} from './support.js';

async function failure(promise: Promise<unknown>): Promise<MongoServerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  assert.ok(error instanceof MongoServerError, `expected a server error, got ${String(error)}`);
  return error;
}

/** Violations with each group's ids and the groups sorted, as the jstest compares them. */
function sorted(violations: { ids: unknown[] }[]): { ids: unknown[] }[] {
  return violations
    .map(v => ({ ids: [...v.ids].sort() }))
    .sort((a, b) => String(a.ids[0]).localeCompare(String(b.ids[0])));
}

describe('test server unique index conversion (7.0)', () => {
  let started: Started;
  let db: Db;
  before(async () => {
    started = await startWithClient();
    db = started.client.db('uc');
  });
  after(async () => {
    await started.close();
  });

  it('reports violations as collmod_convert_to_unique_violations.js expects', async () => {
    const coll = db.collection<AnyDoc>('violations');
    await coll.createIndex({ a: 1 });
    await coll.createIndex({ a: 1, b: 1 });
    const expectViolations = async (keyPattern: Document, violations: { ids: unknown[] }[]) => {
      await db.command({ collMod: 'violations', index: { keyPattern, prepareUnique: true } });
      const error = await failure(
        db.command({ collMod: 'violations', index: { keyPattern, unique: true } })
      );
      assert.equal(error.code, 359);
      assert.equal(error.codeName, 'CannotConvertIndexToUnique');
      assert.equal(
        error.message,
        'Cannot convert the index to unique. Please resolve conflicting documents before running collMod again.'
      );
      assert.deepEqual(
        sorted(error.errorResponse.violations as { ids: unknown[] }[]),
        sorted(violations)
      );
      await db.command({ collMod: 'violations', index: { keyPattern, prepareUnique: false } });
    };
    await coll.insertMany([
      { _id: 1, a: 100, b: 1 },
      { _id: 2, a: 100, b: 2 }
    ]);
    await expectViolations({ a: 1 }, [{ ids: [1, 2] }]);
    await coll.insertOne({ _id: 3, a: 100, b: 3 });
    await expectViolations({ a: 1 }, [{ ids: [1, 2, 3] }]);
    await coll.insertMany([
      { _id: 4, a: 101, b: 4 },
      { _id: 5, a: 105, b: 5 },
      { _id: 6, a: 105, b: 6 }
    ]);
    await expectViolations({ a: 1 }, [{ ids: [1, 2, 3] }, { ids: [5, 6] }]);
    await coll.insertMany([
      { _id: 7, a: 105, b: 6 },
      { _id: 8, a: 105, b: 6 },
      { _id: 9, a: 101, b: 4 },
      { _id: '10', a: 101, b: 4 }
    ]);
    await expectViolations({ a: 1, b: 1 }, [{ ids: [4, 9, '10'] }, { ids: [6, 7, 8] }]);
  });

  it('converts in two steps, enforcing new duplicates after prepareUnique', async () => {
    const coll = db.collection<AnyDoc>('apples');
    await coll.insertMany([
      { _id: 1, type: 'Delicious' },
      { _id: 2, type: 'Delicious' },
      { _id: 3, type: 'Fuji' }
    ]);
    await coll.createIndex({ type: 1 });
    const oneStep = await failure(
      db.command({ collMod: 'apples', index: { keyPattern: { type: 1 }, unique: true } })
    );
    assert.equal(oneStep.code, 72);
    assert.equal(
      oneStep.message,
      "Cannot make index unique with 'prepareUnique=false'. Run collMod to set it first."
    );
    const since = await newestOplogTs(started.client);
    const prepared = await db.command({
      collMod: 'apples',
      index: { keyPattern: { type: 1 }, prepareUnique: true }
    });
    assert.equal(prepared.prepareUnique_old, false);
    assert.equal(prepared.prepareUnique_new, true);
    assert.deepEqual((await coll.listIndexes().toArray())[1], {
      v: 2,
      key: { type: 1 },
      name: 'type_1',
      prepareUnique: true
    });
    // New duplicate keys are refused; the existing ones stay and can still be updated.
    const insert = await failure(coll.insertOne({ _id: 4, type: 'Fuji' }));
    assert.equal(insert.code, 11000);
    assert.deepEqual(insert.errorResponse.keyPattern, { type: 1 });
    assert.deepEqual(insert.errorResponse.keyValue, { type: 'Fuji' });
    assert.match(insert.message, /index: type_1 dup key: \{ type: "Fuji" \}$/);
    const moved = await failure(coll.updateOne({ _id: 3 }, { $set: { type: 'Delicious' } }));
    assert.equal(moved.code, 11000);
    await coll.updateOne({ _id: 1 }, { $set: { ripe: true } });
    const dryRun = await failure(
      db.command({
        collMod: 'apples',
        index: { keyPattern: { type: 1 }, unique: true },
        dryRun: true
      })
    );
    assert.equal(dryRun.code, 359);
    assert.deepEqual(dryRun.errorResponse.violations, [{ ids: [1, 2] }]);
    await coll.updateOne({ _id: 2 }, { $set: { type: 'Gala' } });
    const clean = await db.command({
      collMod: 'apples',
      index: { keyPattern: { type: 1 }, unique: true },
      dryRun: true
    });
    assert.deepEqual(
      Object.keys(clean).filter(k => !k.startsWith('$') && k !== 'operationTime'),
      ['ok']
    );
    assert.equal(
      (await coll.listIndexes().toArray())[1]!.unique,
      undefined,
      'dryRun changes nothing'
    );
    const converted = await db.command({
      collMod: 'apples',
      index: { name: 'type_1', unique: true }
    });
    assert.equal(converted.unique_new, true);
    assert.deepEqual((await coll.listIndexes().toArray())[1], {
      v: 2,
      key: { type: 1 },
      name: 'type_1',
      unique: true
    });
    const again = await db.command({ collMod: 'apples', index: { name: 'type_1', unique: true } });
    assert.equal(again.unique_new, undefined, 'converting a unique index is a no-op');
    assert.equal((await failure(coll.insertOne({ _id: 5, type: 'Gala' }))).code, 11000);

    const entries = (await oplogEntriesAfter(started.client, since)).filter(
      e => e.op === 'c' && 'collMod' in e.o
    );
    const [listed] = (await db.listCollections({ name: 'apples' }).toArray()) as Document[];
    const uuid = listed!.info.uuid as BSON.Binary;
    assert.deepEqual(
      entries.map(e => ({ o: e.o, o2: e.o2 as Document })),
      [
        {
          o: { collMod: 'apples', index: { name: 'type_1', prepareUnique: true } },
          o2: { collectionOptions_old: { uuid }, indexOptions_old: { prepareUnique: false } }
        },
        {
          o: { collMod: 'apples', index: { name: 'type_1', unique: true } },
          o2: { collectionOptions_old: { uuid }, indexOptions_old: {} }
        },
        { o: { collMod: 'apples' }, o2: { collectionOptions_old: { uuid } } }
      ]
    );
  });

  it('enforces an index created with prepareUnique: true', async () => {
    const coll = db.collection<AnyDoc>('created');
    await coll.insertMany([
      { _id: 1, k: 'a' },
      { _id: 2, k: 'a' }
    ]);
    await db.command({
      createIndexes: 'created',
      indexes: [{ key: { k: 1 }, name: 'k_1', prepareUnique: true }]
    });
    assert.deepEqual((await coll.listIndexes().toArray())[1], {
      v: 2,
      key: { k: 1 },
      name: 'k_1',
      prepareUnique: true
    });
    assert.equal((await failure(coll.insertOne({ _id: 3, k: 'a' }))).code, 11000);
    await coll.insertOne({ _id: 3, k: 'b' });
    const error = await failure(coll.updateOne({ _id: 3 }, { $set: { k: 'a' } }));
    assert.deepEqual(error.errorResponse.keyValue, { k: 'a' });
    await coll.deleteOne({ _id: 2 });
    const converted = await db.command({
      collMod: 'created',
      index: { name: 'k_1', unique: true }
    });
    assert.equal(converted.unique_new, true);
  });

  it('refuses dry runs of anything but unique: true, and keeps prepareUnique off unique indexes', async () => {
    const coll = db.collection<AnyDoc>('dry');
    await coll.createIndex({ k: 1 }, { unique: true });
    const noIndex = await failure(db.command({ collMod: 'dry', dryRun: true }));
    assert.equal(noIndex.code, 72);
    assert.equal(noIndex.message, 'dry run mode requires an valid index modification.');
    const hidden = await failure(
      db.command({ collMod: 'dry', index: { name: 'k_1', hidden: true }, dryRun: true })
    );
    assert.equal(hidden.message, 'dry run mode requires an index modification with unique: true.');
    const prepared = await db.command({
      collMod: 'dry',
      index: { name: 'k_1', prepareUnique: true }
    });
    assert.equal(prepared.prepareUnique_new, undefined);
    const nonUnique = await failure(
      db.command({ collMod: 'dry', index: { name: 'k_1', unique: false } })
    );
    assert.equal(nonUnique.code, 2);
    assert.equal(nonUnique.message, 'Cannot make index non-unique');
    const both = await failure(
      db.command({ collMod: 'dry', index: { name: 'k_1', keyPattern: { k: 1 }, hidden: true } })
    );
    assert.equal(both.message, 'Cannot specify both key pattern and name.');
    const missing = await failure(
      db.command({ collMod: 'dry', index: { name: 'nope', hidden: true } })
    );
    assert.equal(missing.code, 27);
    assert.equal(missing.message, 'cannot find index nope for ns uc.dry');
    const nothing = await failure(db.command({ collMod: 'dry', index: { name: 'k_1' } }));
    assert.equal(nothing.message, 'no expireAfterSeconds, hidden, unique, or prepareUnique field');
  });

  it('fails a unique index build over duplicates as mongod does, leaving no index', async () => {
    const coll = db.collection<AnyDoc>('dups');
    await coll.insertMany([
      { _id: 1, k: 1 },
      { _id: 2, k: 1 }
    ]);
    const since = await newestOplogTs(started.client);
    const error = await failure(coll.createIndex({ k: 1 }, { unique: true }));
    assert.equal(error.code, 11000);
    const uuidPattern = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
    assert.match(
      error.message,
      new RegExp(
        `^Index build failed: ${uuidPattern}: Collection uc\\.dups \\( ${uuidPattern} \\) :: caused by :: E11000 duplicate key error collection: uc\\.dups index: k_1 dup key: \\{ k: 1 \\}$`
      )
    );
    assert.deepEqual(error.errorResponse.keyPattern, { k: 1 });
    assert.deepEqual(error.errorResponse.keyValue, { k: 1 });
    assert.deepEqual(
      (await coll.listIndexes().toArray()).map(i => i.name),
      ['_id_']
    );
    const entries = await oplogEntriesAfter(started.client, since);
    assert.deepEqual(
      entries.map(e => Object.keys(e.o)[0]),
      ['startIndexBuild', 'abortIndexBuild']
    );
    const [start, abort] = entries as Document[];
    assert.ok(start!.o.indexBuildUUID.equals(abort!.o.indexBuildUUID));
    assert.deepEqual(abort!.o.indexes, [{ v: 2, key: { k: 1 }, name: 'k_1', unique: true }]);
    assert.deepEqual(Object.keys(abort!.o.cause), [
      'ok',
      'code',
      'codeName',
      'errmsg',
      'keyPattern',
      'keyValue'
    ]);
    assert.equal(abort!.o.cause.ok, false);
    assert.equal(abort!.o.cause.code, 11000);
    assert.match(
      abort!.o.cause.errmsg,
      /^E11000 duplicate key error collection: uc\.dups index: k_1/
    );
  });
});

describe('test server unique conversion in older versions', () => {
  it('6.0 converts but knows no dryRun', async () => {
    const started = await startWithClient({ version: '6.0' });
    try {
      const db = started.client.db('u6');
      await db.collection<AnyDoc>('c').createIndex({ a: 1 });
      await db.command({ collMod: 'c', index: { keyPattern: { a: 1 }, prepareUnique: true } });
      const dryRun = await failure(
        db.command({ collMod: 'c', index: { keyPattern: { a: 1 }, unique: true }, dryRun: true })
      );
      assert.equal(dryRun.code, 40415);
      assert.equal(dryRun.message, "BSON field 'collMod.dryRun' is an unknown field.");
      const converted = await db.command({
        collMod: 'c',
        index: { keyPattern: { a: 1 }, unique: true }
      });
      assert.equal(converted.unique_new, true);
    } finally {
      await started.close();
    }
  });

  for (const [version, code, message] of [
    ['5.0', 40415, "BSON field 'collMod.index.prepareUnique' is an unknown field."],
    ['4.4', 72, 'no expireAfterSeconds or hidden field']
  ] as const) {
    it(`${version} refuses prepareUnique (${code}) and index specs with it (197)`, async () => {
      const started = await startWithClient({ version });
      try {
        const db = started.client.db('old');
        await db.collection<AnyDoc>('c').createIndex({ a: 1 });
        const error = await failure(
          db.command({ collMod: 'c', index: { keyPattern: { a: 1 }, prepareUnique: true } })
        );
        assert.equal(error.code, code);
        assert.equal(error.message, message);
        const spec = await failure(
          db.command({
            createIndexes: 'c',
            indexes: [{ key: { b: 1 }, name: 'b_1', prepareUnique: true }]
          })
        );
        assert.equal(spec.code, 197);
      } finally {
        await started.close();
      }
    });
  }
});
