import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Started, startWithClient } from './support.js';

describe('test server: a transaction commits at once', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient();
  });
  after(async () => {
    await started.close();
  });

  it('documents that swap unique values inside a transaction do not collide at commit', async () => {
    const users = started.client.db('txu').collection<{ _id: number; email: string }>('users');
    await users.createIndex({ email: 1 }, { unique: true });
    await users.insertMany([
      { _id: 1, email: 'a@example.com' },
      { _id: 2, email: 'b@example.com' }
    ]);
    const session = started.client.startSession();
    try {
      await session.withTransaction(async () => {
        await users.updateOne({ _id: 1 }, { $set: { email: 'tmp' } }, { session });
        await users.updateOne({ _id: 2 }, { $set: { email: 'a@example.com' } }, { session });
        await users.updateOne({ _id: 1 }, { $set: { email: 'b@example.com' } }, { session });
      });
    } finally {
      await session.endSession();
    }
    assert.deepEqual(await users.find({}, { sort: { _id: 1 } }).toArray(), [
      { _id: 1, email: 'b@example.com' },
      { _id: 2, email: 'a@example.com' }
    ]);
    // The index still holds: a third document cannot take either value.
    await assert.rejects(users.insertOne({ _id: 3, email: 'a@example.com' }), { code: 11000 });
  });
});
