/**
 * Killing sessions and unsatisfiable write concerns, as the transactions and read-write-concern
 * spec tests use them: the unified test runner ends every test with `killAllSessions`, and a
 * transaction it leaves open must not block the next test's writes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MongoServerError, MongoWriteConcernError } from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

describe('test server session kills', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient();
    await started.client.db('kill').collection<AnyDoc>('c').insertOne({ _id: 1, n: 0 });
  });
  after(async () => {
    await started.close();
  });

  for (const kill of ['killAllSessions', 'killSessions'] as const) {
    it(`${kill} aborts open transactions: the next writer of the same document does not conflict`, async () => {
      const coll = started.client.db('kill').collection<AnyDoc>('c');
      const session = started.client.startSession();
      try {
        session.startTransaction();
        await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session });
        const command =
          kill === 'killAllSessions' ? { killAllSessions: [] } : { killSessions: [session.id] };
        await started.client.db('admin').command(command);
        await coll.updateOne({ _id: 1 }, { $inc: { n: 10 } });
        const error = await session.commitTransaction().catch((e: unknown) => e);
        assert.ok(error instanceof MongoServerError);
        assert.equal(error.code, 251);
      } finally {
        await session.endSession();
      }
      assert.equal((await coll.findOne({ _id: 1 }))!.n % 10, 0, 'the killed increment is gone');
    });
  }

  it('answers w greater than the one member with UnsatisfiableWriteConcern after writing', async () => {
    const coll = started.client.db('kill').collection<AnyDoc>('wc');
    const error = await coll
      .insertOne({ _id: 'w10' }, { writeConcern: { w: 10 } })
      .catch((e: unknown) => e);
    assert.ok(error instanceof MongoWriteConcernError);
    assert.equal(error.code, 100);
    assert.equal(error.codeName, 'UnsatisfiableWriteConcern');
    assert.equal(error.message, 'Not enough data-bearing nodes');
    assert.deepEqual(error.errInfo, {
      writeConcern: { w: 10, wtimeout: 0, provenance: 'clientSupplied' }
    });
    assert.equal(await coll.countDocuments({ _id: 'w10' }), 1, 'the write was performed');
    await coll.insertOne({ _id: 'w1' }, { writeConcern: { w: 1 } });
    await coll.insertOne({ _id: 'wmaj' }, { writeConcern: { w: 'majority' } });
  });
});
