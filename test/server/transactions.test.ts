import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BSON, type Document, type MongoClient, MongoServerError } from 'mongodb';

import {
  type AnyDoc,
  newestOplogTs,
  oplogEntriesAfter,
  type OplogEntryDoc,
  type Started,
  startWithClient
} from './support.js';

type Entry = OplogEntryDoc;

describe('test server transactions', () => {
  let started: Started;
  let client: MongoClient;
  before(async () => {
    started = await startWithClient();
    client = started.client;
    await client.db('tx').createCollection('accounts');
  });
  after(async () => {
    await started.close();
  });

  it('commits as one applyOps entry with lsid, txnNumber and prevOpTime, and shows nothing before', async () => {
    const accounts = client.db('tx').collection<AnyDoc>('accounts');
    await accounts.insertMany([
      { _id: 'a', balance: 100 },
      { _id: 'b', balance: 0 }
    ]);
    const since = await newestOplogTs(client);
    const session = client.startSession();
    try {
      session.startTransaction();
      await accounts.updateOne({ _id: 'a' }, { $inc: { balance: -30 } }, { session });
      await accounts.updateOne({ _id: 'b' }, { $inc: { balance: 30 } }, { session });
      await accounts.insertOne({ _id: 'log1', amount: 30 }, { session });
      // Read-your-writes inside, isolation outside.
      assert.equal((await accounts.findOne({ _id: 'a' }, { session }))!.balance, 70);
      assert.equal((await accounts.findOne({ _id: 'a' }))!.balance, 100);
      assert.equal(await accounts.countDocuments({ _id: 'log1' }), 0);
      assert.deepEqual(await oplogEntriesAfter(client, since), []);
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    assert.equal((await accounts.findOne({ _id: 'a' }))!.balance, 70);
    const entries = await oplogEntriesAfter(client, since);
    assert.equal(entries.length, 1);
    const [commit] = entries as [Entry];
    assert.equal(commit.op, 'c');
    assert.equal(commit.ns, 'admin.$cmd');
    assert.ok(commit.lsid.id instanceof BSON.Binary);
    assert.equal(commit.lsid.uid.length(), 32);
    assert.ok(commit.txnNumber !== undefined);
    assert.deepEqual(commit.prevOpTime, { ts: new BSON.Timestamp({ t: 0, i: 0 }), t: -1 });
    assert.equal(commit.o.partialTxn, undefined);
    const ops = commit.o.applyOps as Document[];
    assert.deepEqual(
      ops.map(op => [op.op, op.ns, op.o2?._id ?? op.o._id]),
      [
        ['u', 'tx.accounts', 'a'],
        ['u', 'tx.accounts', 'b'],
        ['i', 'tx.accounts', 'log1']
      ]
    );
    assert.deepEqual(ops[0]!.o, { $v: 2, diff: { u: { balance: 70 } } });
    assert.ok(ops.every(op => op.ui instanceof BSON.Binary && op.ts === undefined));
  });

  it('writes nothing for an aborted transaction', async () => {
    const accounts = client.db('tx').collection<AnyDoc>('accounts');
    const since = await newestOplogTs(client);
    const session = client.startSession();
    try {
      session.startTransaction();
      await accounts.insertOne({ _id: 'never' }, { session });
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    assert.equal(await accounts.countDocuments({ _id: 'never' }), 0);
    assert.deepEqual(await oplogEntriesAfter(client, since), []);
  });

  it('fails the second writer of a document with WriteConflict and TransientTransactionError', async () => {
    const accounts = client.db('tx').collection<AnyDoc>('accounts');
    await accounts.insertOne({ _id: 'hot', n: 0 });
    const first = client.startSession();
    const second = client.startSession();
    try {
      first.startTransaction();
      second.startTransaction();
      await accounts.updateOne({ _id: 'hot' }, { $inc: { n: 1 } }, { session: first });
      const error = await accounts
        .updateOne({ _id: 'hot' }, { $inc: { n: 10 } }, { session: second })
        .catch((e: unknown) => e);
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 112);
      assert.equal(error.codeName, 'WriteConflict');
      assert.ok(error.hasErrorLabel('TransientTransactionError'));
      await first.commitTransaction();
      await second.abortTransaction().catch(() => undefined);
    } finally {
      await first.endSession();
      await second.endSession();
    }
    assert.equal((await accounts.findOne({ _id: 'hot' }))!.n, 1);
  });

  it('retries a whole transaction with withTransaction', async () => {
    const accounts = client.db('tx').collection<AnyDoc>('accounts');
    const session = client.startSession();
    try {
      await session.withTransaction(async () => {
        await accounts.insertOne({ _id: 'wt1' }, { session });
        await accounts.insertOne({ _id: 'wt2' }, { session });
      });
    } finally {
      await session.endSession();
    }
    assert.equal(await accounts.countDocuments({ _id: { $in: ['wt1', 'wt2'] } }), 2);
  });

  it('aborts the transaction on a statement error and answers NoSuchTransaction afterwards', async () => {
    const accounts = client.db('tx').collection<AnyDoc>('accounts');
    const session = client.startSession();
    try {
      session.startTransaction();
      await accounts.insertOne({ _id: 'dup-in-txn' }, { session });
      await assert.rejects(
        accounts.insertOne({ _id: 'dup-in-txn' }, { session }),
        (e: MongoServerError) => e.code === 11000
      );
      await assert.rejects(session.commitTransaction(), (e: MongoServerError) => e.code === 251);
    } finally {
      await session.endSession();
    }
    assert.equal(await accounts.countDocuments({ _id: 'dup-in-txn' }), 0);
  });

  it('refuses commands that mongod does not allow in a transaction', async () => {
    const session = client.startSession();
    try {
      session.startTransaction();
      await assert.rejects(
        client.db('tx').command({ count: 'accounts' }, { session }),
        (e: MongoServerError) =>
          e.code === 263 && e.message === "Cannot run 'count' in a multi-document transaction."
      );
      await session.abortTransaction().catch(() => undefined);
    } finally {
      await session.endSession();
    }
  });
});

describe('test server partialTxn chains', () => {
  it('logs a transaction over the per-entry limit as a partialTxn chain closed by count', async () => {
    const started = await startWithClient({ maxTransactionOpsPerOplogEntry: 2 });
    try {
      const { client } = started;
      await client.db('tx').createCollection('big');
      const since = await newestOplogTs(client);
      const session = client.startSession();
      try {
        await session.withTransaction(async () => {
          for (let i = 0; i < 5; i++)
            await client.db('tx').collection<AnyDoc>('big').insertOne({ _id: i }, { session });
        });
      } finally {
        await session.endSession();
      }
      const entries = await oplogEntriesAfter(client, since);
      assert.deepEqual(
        entries.map(e => [e.o.applyOps.length, e.o.partialTxn ?? false, e.o.count]),
        [
          [2, true, undefined],
          [2, true, undefined],
          [1, false, 5]
        ]
      );
      assert.deepEqual(entries[0]!.prevOpTime, { ts: new BSON.Timestamp({ t: 0, i: 0 }), t: -1 });
      assert.ok(entries[1]!.prevOpTime.ts.equals(entries[0]!.ts));
      assert.ok(entries[2]!.prevOpTime.ts.equals(entries[1]!.ts));
      assert.ok(entries.every(e => e.txnNumber !== undefined && e.lsid !== undefined));
    } finally {
      await started.close();
    }
  });
});
