/**
 * `create` and `createIndexes` inside transactions (MongoDB 4.4+), with the rules of mongod's
 * create_collection.cpp and create_indexes.cpp and the jstests/core/txns/create_*.js cases: the
 * new collection is private until the commit, whose applyOps logs the DDL before the writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type ClientSession, type Document, MongoServerError } from 'mongodb';

import {
  type AnyDoc,
  newestOplogTs,
  oplogEntriesAfter,
  type Started,
  startWithClient
} from './support.js';

describe('test server DDL in transactions', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient();
  });
  after(async () => {
    await started.close();
  });

  const db = () => started.client.db('txddl');
  const names = async () => (await db().listCollections().toArray()).map(c => c.name).sort();

  async function inTransaction(work: (session: ClientSession) => Promise<void>): Promise<void> {
    const session = started.client.startSession();
    try {
      session.startTransaction();
      await work(session);
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
  }

  it('creates a collection and its indexes privately, and logs them in the commit applyOps', async () => {
    const since = await newestOplogTs(started.client);
    await inTransaction(async session => {
      await db().createCollection('fresh', { session });
      const created = await db().command(
        { createIndexes: 'fresh', indexes: [{ key: { a: 1 }, name: 'a_1' }] },
        { session }
      );
      assert.equal(created.createdCollectionAutomatically, true);
      assert.equal(created.numIndexesBefore, 1);
      assert.equal(created.numIndexesAfter, 2);
      await db().collection<AnyDoc>('fresh').insertOne({ _id: 1, a: 1 }, { session });
      assert.deepEqual(await names(), [], 'nothing is visible outside before the commit');
    });
    assert.deepEqual(await names(), ['fresh']);
    assert.deepEqual(
      (await db().collection('fresh').indexes()).map(index => index.name),
      ['_id_', 'a_1']
    );
    const entries = await oplogEntriesAfter(started.client, since);
    assert.equal(entries.length, 1);
    const ops = entries[0]!.o.applyOps as Document[];
    assert.deepEqual(
      ops.map(op => [op.op, op.ns, Object.keys(op.o)[0]]),
      [
        ['c', 'txddl.$cmd', 'create'],
        ['c', 'txddl.$cmd', 'createIndexes'],
        ['i', 'txddl.fresh', '_id']
      ]
    );
    assert.deepEqual(ops[0]!.o, {
      create: 'fresh',
      idIndex: { v: 2, key: { _id: 1 }, name: '_id_' }
    });
    assert.deepEqual(ops[1]!.o, { createIndexes: 'fresh', v: 2, key: { a: 1 }, name: 'a_1' });
    assert.ok(ops.every(op => op.ui !== undefined && op.ui.equals(ops[0]!.ui)));
  });

  it('creates a collection implicitly with createIndexes, and forgets it on abort', async () => {
    const session = started.client.startSession();
    try {
      session.startTransaction();
      const reply = await db().command(
        { createIndexes: 'implicit', indexes: [{ key: { b: 1 }, name: 'b_1' }] },
        { session }
      );
      assert.equal(reply.createdCollectionAutomatically, true);
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    assert.ok(!(await names()).includes('implicit'));
  });

  it('refuses new indexes on an existing or non-empty collection, but accepts existing ones', async () => {
    await db().collection<AnyDoc>('old').insertOne({ _id: 1 });
    await db().collection('old').createIndex({ c: 1 }, { name: 'c_1' });
    await inTransaction(async session => {
      const same = await db().command(
        { createIndexes: 'old', indexes: [{ key: { c: 1 }, name: 'c_1' }] },
        { session }
      );
      assert.equal(same.note, 'all indexes already exist');
    });
    const session = started.client.startSession();
    try {
      session.startTransaction();
      const existing = await db()
        .command({ createIndexes: 'old', indexes: [{ key: { d: 1 }, name: 'd_1' }] }, { session })
        .catch((e: unknown) => e);
      assert.ok(existing instanceof MongoServerError);
      assert.equal(existing.code, 263);
      assert.equal(
        existing.message,
        'Cannot create new indexes on existing collection txddl.old in a multi-document transaction.'
      );
      await session.abortTransaction().catch(() => undefined);
      session.startTransaction();
      await db().createCollection('filled', { session });
      await db().collection<AnyDoc>('filled').insertOne({ _id: 1 }, { session });
      const nonEmpty = await db()
        .command(
          { createIndexes: 'filled', indexes: [{ key: { e: 1 }, name: 'e_1' }] },
          { session }
        )
        .catch((e: unknown) => e);
      assert.ok(nonEmpty instanceof MongoServerError);
      assert.equal(nonEmpty.code, 263);
      assert.match(nonEmpty.message, /^Cannot create new indexes on non-empty collection/);
      await session.abortTransaction().catch(() => undefined);
    } finally {
      await session.endSession();
    }
  });

  it('refuses an existing namespace (48, aborting the transaction) and views (263)', async () => {
    await db().createCollection('taken');
    const session = started.client.startSession();
    try {
      session.startTransaction();
      const exists = await db()
        .createCollection('taken', { session })
        .catch((e: unknown) => e);
      assert.ok(exists instanceof MongoServerError);
      assert.equal(exists.code, 48);
      const aborted = await session.commitTransaction().catch((e: unknown) => e);
      assert.ok(aborted instanceof MongoServerError);
      assert.equal(aborted.code, 251);
      session.startTransaction();
      const view = await db()
        .command({ create: 'v', viewOn: 'taken', pipeline: [] }, { session })
        .catch((e: unknown) => e);
      assert.ok(view instanceof MongoServerError);
      assert.equal(view.code, 263);
      assert.equal(view.message, 'Cannot create a view in a multi-document transaction.');
      await session.abortTransaction().catch(() => undefined);
    } finally {
      await session.endSession();
    }
  });

  it('fails the commit with WriteConflict when the namespace was created outside meanwhile', async () => {
    const session = started.client.startSession();
    try {
      session.startTransaction();
      await db().createCollection('raced', { session });
      await db().createCollection('raced');
      const error = await session.commitTransaction().catch((e: unknown) => e);
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 112);
    } finally {
      await session.endSession();
    }
  });
});
