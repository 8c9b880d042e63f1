/**
 * Error labels and failCommand details as the driver specs' unified tests exercise them
 * (transactions/unified/error-labels.json, retryable-commit*.json,
 * change-streams/unified/change-streams-resume-errorLabels.json).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { type CommandStartedEvent, Long, MongoServerError } from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

describe('test server error labels', () => {
  let started: Started;
  let commands: CommandStartedEvent[] = [];
  before(async () => {
    started = await startWithClient({ client: { monitorCommands: true } });
    started.client.on('commandStarted', event => commands.push(event));
    await started.client.db('labels').createCollection('c');
  });
  afterEach(async () => {
    await started.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    commands = [];
  });
  after(async () => {
    await started.close();
  });

  const failCommand = (mode: unknown, data: Record<string, unknown>) =>
    started.client.db('admin').command({ configureFailPoint: 'failCommand', mode, data });
  const named = (name: string) => commands.filter(c => c.commandName === name);

  it('keeps the configured errorLabels on an injected writeConcernError, so the driver retries the commit', async () => {
    await failCommand(
      { times: 1 },
      {
        failCommands: ['commitTransaction'],
        writeConcernError: { code: 91, errmsg: 'Replication is being shut down' },
        errorLabels: ['RetryableWriteError']
      }
    );
    const session = started.client.startSession();
    try {
      session.startTransaction();
      await started.client
        .db('labels')
        .collection<AnyDoc>('c')
        .insertOne({ _id: 'wce-labels' }, { session });
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    assert.equal(named('commitTransaction').length, 2, 'the commit was retried once');
    assert.equal(await started.client.db('labels').collection('c').countDocuments(), 1);
  });

  it('computes RetryableWriteError from the writeConcernError code of a commit', async () => {
    await failCommand(
      { times: 1 },
      {
        failCommands: ['commitTransaction'],
        writeConcernError: { code: 91, errmsg: 'Replication is being shut down' }
      }
    );
    const session = started.client.startSession();
    try {
      session.startTransaction();
      await started.client
        .db('labels')
        .collection<AnyDoc>('c')
        .insertOne({ _id: 'wce-computed' }, { session });
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    assert.equal(named('commitTransaction').length, 2);
  });

  it('labels NoSuchTransaction at commit as a TransientTransactionError', async () => {
    await failCommand({ times: 1 }, { failCommands: ['commitTransaction'], errorCode: 251 });
    const session = started.client.startSession();
    try {
      session.startTransaction();
      await started.client
        .db('labels')
        .collection<AnyDoc>('c')
        .insertOne({ _id: 'nst' }, { session });
      const error = await session.commitTransaction().catch((e: unknown) => e);
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 251);
      assert.deepEqual(error.errorLabels, ['TransientTransactionError']);
    } finally {
      await session.endSession();
    }
  });

  it('names codes as mongod does (11601 is Interrupted)', async () => {
    await failCommand({ times: 1 }, { failCommands: ['ping'], errorCode: 11601 });
    const error = await started.client
      .db('labels')
      .command({ ping: 1 })
      .catch((e: unknown) => e);
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.codeName, 'Interrupted');
  });

  it('fails a transaction statement before the transaction starts, so the same number can start it', async () => {
    await failCommand({ times: 1 }, { failCommands: ['insert'], errorCode: 112 });
    const session = started.client.startSession();
    try {
      const statement = {
        insert: 'c',
        documents: [{ _id: 'first-op' }],
        txnNumber: Long.fromNumber(7),
        startTransaction: true,
        autocommit: false
      };
      const failed = await started.client
        .db('labels')
        .command(statement, { session })
        .catch((e: unknown) => e);
      assert.ok(failed instanceof MongoServerError);
      assert.equal(failed.code, 112);
      assert.deepEqual(failed.errorLabels, ['TransientTransactionError']);
      const retried = await started.client.db('labels').command(statement, { session });
      assert.equal(retried.n, 1);
      const inside = await started.client.db('labels').command(
        {
          find: 'c',
          filter: { _id: 'first-op' },
          txnNumber: Long.fromNumber(7),
          autocommit: false
        },
        { session }
      );
      assert.equal(
        inside.cursor.firstBatch.length,
        1,
        'the transaction started by the retry is open'
      );
    } finally {
      await session.endSession();
    }
  });

  it('gives a getMore failed by failCommand no ResumableChangeStreamError, so the stream does not resume', async () => {
    const stream = started.client.db('labels').collection('c').watch();
    try {
      // The first getMore opens the stream's cursor on the server side of the driver.
      assert.equal(await stream.tryNext(), null);
      await failCommand(
        { times: 1 },
        { failCommands: ['getMore'], errorCode: 6, closeConnection: false }
      );
      await started.client.db('labels').collection<AnyDoc>('c').insertOne({ _id: 'cs' });
      const error = await stream.next().catch((e: unknown) => e);
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 6);
      assert.equal(named('aggregate').length, 1, 'no resume attempt');
    } finally {
      await stream.close();
    }
  });

  it('labels a getMore failed after cursor checkout as resumable, so the stream resumes', async () => {
    const stream = started.client.db('labels').collection('c').watch();
    try {
      assert.equal(await stream.tryNext(), null);
      await started.client.db('admin').command({
        configureFailPoint: 'failGetMoreAfterCursorCheckout',
        mode: { times: 1 },
        data: { errorCode: 6 }
      });
      await started.client.db('labels').collection<AnyDoc>('c').insertOne({ _id: 'cs-resume' });
      const event = await stream.next();
      assert.equal(event.operationType, 'insert');
      assert.equal(named('aggregate').length, 2, 'resumed once');
    } finally {
      await stream.close();
    }
  });
});
