import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import mongoose from 'mongoose';

import { startTestServer, type TestServer } from './server.js';

describe('mongoose against the test server', () => {
  let server: TestServer;
  let connection: mongoose.Connection;
  before(async () => {
    server = await startTestServer();
    connection = await mongoose
      .createConnection(server.uri, { dbName: 'shop', serverSelectionTimeoutMS: 5000 })
      .asPromise();
  });
  after(async () => {
    await connection.close();
    await server.stop();
  });

  it('creates, updates and enforces a unique index through a model', async () => {
    const User = connection.model(
      'User',
      new mongoose.Schema({
        email: { type: String, required: true, unique: true },
        visits: { type: Number, default: 0 }
      })
    );
    await User.init();
    const indexes = await User.listIndexes();
    assert.ok(indexes.some(index => index.name === 'email_1' && index.unique === true));
    const alice = await User.create({ email: 'alice@example.com' });
    await User.updateOne({ _id: alice._id }, { $inc: { visits: 2 } });
    const updated = await User.findOneAndUpdate(
      { email: 'alice@example.com' },
      { $inc: { visits: 1 } },
      { new: true }
    );
    assert.equal(updated?.visits, 3);
    await assert.rejects(
      User.create({ email: 'alice@example.com' }),
      (error: { code?: number; keyValue?: unknown }) => {
        assert.equal(error.code, 11000);
        assert.deepEqual(error.keyValue, { email: 'alice@example.com' });
        return true;
      }
    );
    assert.equal(await User.countDocuments(), 1);
  });
});
