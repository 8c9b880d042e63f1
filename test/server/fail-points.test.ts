import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import {
  type BSON,
  type CommandStartedEvent,
  Long,
  MongoClient,
  MongoNetworkError,
  MongoServerError,
  MongoWriteConcernError
} from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

describe('test server fail points', () => {
  let started: Started;
  let commands: CommandStartedEvent[] = [];
  before(async () => {
    started = await startWithClient({ client: { monitorCommands: true } });
    started.client.on('commandStarted', event => commands.push(event));
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

  it('fails a listed command with the given error once, and the driver retries the write', async () => {
    await failCommand({ times: 1 }, { failCommands: ['insert'], errorCode: 91 });
    await started.client.db('fp').collection<AnyDoc>('retry').insertOne({ _id: 1 });
    assert.equal(commands.filter(c => c.commandName === 'insert').length, 2);
    assert.equal(await started.client.db('fp').collection('retry').countDocuments(), 1);
  });

  it('reports how many times the fail point fired when it is reconfigured', async () => {
    await failCommand({ times: 2 }, { failCommands: ['ping'], errorCode: 2 });
    await assert.rejects(
      started.client.db('fp').command({ ping: 1 }),
      (e: MongoServerError) => e.code === 2
    );
    const reply = await failCommand('off', {});
    assert.equal(reply.count, 1);
  });

  it('adds the labels mongod computes, or exactly the configured errorLabels', async () => {
    await failCommand('alwaysOn', { failCommands: ['find'], errorCode: 10107 });
    const computed = await started.client
      .db('fp')
      .collection('c')
      .findOne({})
      .catch((e: unknown) => e);
    assert.ok(computed instanceof MongoServerError);
    assert.equal(computed.code, 10107);
    await failCommand('alwaysOn', {
      failCommands: ['find'],
      errorCode: 2,
      errorLabels: ['CustomLabel']
    });
    const labelled = await started.client
      .db('fp')
      .collection('c')
      .findOne({})
      .catch((e: unknown) => e);
    assert.ok(labelled instanceof MongoServerError);
    assert.deepEqual(labelled.errorLabels, ['CustomLabel']);
  });

  it('skips the first matching commands with {skip: n}', async () => {
    await failCommand({ skip: 1 }, { failCommands: ['ping'], errorCode: 2 });
    await started.client.db('fp').command({ ping: 1 });
    await assert.rejects(
      started.client.db('fp').command({ ping: 1 }),
      (e: MongoServerError) => e.code === 2
    );
  });

  it('closes the connection and the driver retries the write on a new one, writing once', async () => {
    await failCommand({ times: 1 }, { failCommands: ['insert'], closeConnection: true });
    await started.client.db('fp').collection<AnyDoc>('closed').insertOne({ _id: 'once' });
    assert.equal(await started.client.db('fp').collection('closed').countDocuments(), 1);
  });

  it('filters by the handshake appName', async () => {
    await failCommand('alwaysOn', { failCommands: ['ping'], errorCode: 2, appName: 'victim' });
    const victim = new MongoClient(started.server.uri, { appName: 'victim' });
    try {
      await assert.rejects(
        victim.db('fp').command({ ping: 1 }),
        (e: MongoServerError) => e.code === 2
      );
      await started.client.db('fp').command({ ping: 1 });
    } finally {
      await victim.close();
    }
  });

  it('attaches a writeConcernError after executing the write', async () => {
    await failCommand(
      { times: 1 },
      {
        failCommands: ['insert'],
        writeConcernError: {
          code: 100,
          codeName: 'UnsatisfiableWriteConcern',
          errmsg: 'Not enough data-bearing nodes'
        }
      }
    );
    const error = await started.client
      .db('fp')
      .collection<AnyDoc>('wce')
      .insertOne({ _id: 1 })
      .catch((e: unknown) => e);
    assert.ok(error instanceof MongoWriteConcernError);
    assert.equal(error.code, 100);
    assert.equal(
      await started.client.db('fp').collection('wce').countDocuments(),
      1,
      'the write happened'
    );
  });

  it('blocks a command for blockTimeMS before running it', async () => {
    await failCommand(
      { times: 1 },
      { failCommands: ['ping'], blockConnection: true, blockTimeMS: 150 }
    );
    const start = process.hrtime.bigint();
    await started.client.db('fp').command({ ping: 1 });
    const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    assert.ok(elapsedMs >= 140, `ping returned after ${elapsedMs} ms`);
  });

  it('fails a tailing getMore by closing its connection, as mongod does', async () => {
    const oplog = started.client.db('local').collection('oplog.rs');
    const [newest] = await oplog.find().sort({ $natural: -1 }).limit(1).toArray();
    const cursor = oplog.find(
      { ts: { $gte: newest!.ts } },
      { tailable: true, awaitData: true, maxAwaitTimeMS: 100 }
    );
    try {
      assert.ok(await cursor.next());
      await failCommand({ times: 1 }, { failCommands: ['getMore'], closeConnection: true });
      await assert.rejects(cursor.next(), (e: unknown) => e instanceof MongoNetworkError);
    } finally {
      await cursor.close().catch(() => undefined);
    }
  });
});

describe('test server retryable writes', () => {
  it('answers a retried statement (same lsid and txnNumber) from its first execution', async () => {
    const started = await startWithClient();
    try {
      const session = started.client.startSession();
      try {
        const command = {
          insert: 'rw',
          documents: [{ _id: 1 }, { _id: 2 }],
          txnNumber: Long.fromNumber(41)
        };
        const first = await started.client.db('fp').command(command, { session });
        const retry = await started.client.db('fp').command(command, { session });
        assert.equal(first.n, 2);
        assert.equal(retry.n, 2);
        assert.equal(await started.client.db('fp').collection('rw').countDocuments(), 2);
        const inserts = await started.client
          .db('local')
          .collection('oplog.rs')
          .countDocuments({ op: 'i', ns: 'fp.rw' });
        assert.equal(inserts, 2, 'the retry wrote nothing to the oplog');
        await assert.rejects(
          started.client
            .db('fp')
            .command({ ...command, txnNumber: Long.fromNumber(40) }, { session }),
          (e: MongoServerError) => e.code === 225
        );
      } finally {
        await session.endSession();
      }
    } finally {
      await started.close();
    }
  });
});

describe('test server restarts', () => {
  it('keeps data and oplog across restart(), and clients reconnect to a newer electionId', async () => {
    const started = await startWithClient();
    try {
      const { client, server } = started;
      await client.db('rs').collection<AnyDoc>('kept').insertOne({ _id: 1 });
      const before = await client.db('admin').command({ hello: 1 });
      await server.restart();
      assert.equal(await client.db('rs').collection('kept').countDocuments(), 1);
      const after = await client.db('admin').command({ hello: 1 });
      assert.ok(
        Buffer.compare(
          (after.electionId as BSON.ObjectId).id,
          (before.electionId as BSON.ObjectId).id
        ) > 0,
        'the electionId grew'
      );
      assert.notEqual(
        String(after.topologyVersion.processId),
        String(before.topologyVersion.processId)
      );
      const [last] = await client
        .db('local')
        .collection('oplog.rs')
        .find()
        .sort({ $natural: -1 })
        .limit(1)
        .toArray();
      assert.deepEqual(last!.o, { msg: 'new primary' });
      assert.equal(server.port, Number(new URL(server.uri).port));
    } finally {
      await started.close();
    }
  });

  it('dropConnections() closes every connection and the driver carries on', async () => {
    const started = await startWithClient();
    try {
      const { client, server } = started;
      await client.db('rs').collection<AnyDoc>('blip').insertOne({ _id: 1 });
      server.dropConnections();
      await client.db('rs').collection<AnyDoc>('blip').insertOne({ _id: 2 });
      assert.equal(await client.db('rs').collection('blip').countDocuments(), 2);
    } finally {
      await started.close();
    }
  });
});
