import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { BSON, Int32, Long, MongoClient, MongoServerError, ObjectId } from 'mongodb';

import { startTestServer, type TestServer } from './server.js';
import { type AnyDoc, type Started, startWithClient, type TopologyView } from './support.js';

describe('test server handshake and admin commands', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient();
  });
  after(async () => {
    await started.close();
  });

  it('presents itself as the primary of a single-member replica set', async () => {
    const hello = await started.client.db('admin').command({ hello: 1 });
    assert.equal(hello.isWritablePrimary, true);
    assert.equal(hello.setName, 'rs0');
    assert.deepEqual(hello.hosts, [started.server.uri.slice('mongodb://'.length).split('/')[0]]);
    assert.equal(hello.primary, hello.me);
    assert.equal(hello.maxWireVersion, 21);
    assert.equal(hello.minWireVersion, 0);
    assert.equal(hello.maxWriteBatchSize, 100_000);
    assert.equal(hello.logicalSessionTimeoutMinutes, 30);
    assert.ok(hello.electionId instanceof ObjectId);
    assert.ok(
      hello.topologyVersion.counter instanceof Long ||
        typeof hello.topologyVersion.counter === 'number'
    );
    assert.equal(hello.compression, undefined, 'no compression is advertised');
    const legacy = await started.client.db('admin').command({ isMaster: 1 });
    assert.equal(legacy.ismaster, true);
    assert.equal(legacy.isWritablePrimary, undefined);
  });

  it('is seen as a replica set primary by the driver with replicaSet= and with directConnection=true', async () => {
    const direct = new MongoClient(started.server.directUri, { serverSelectionTimeoutMS: 5000 });
    try {
      await direct.connect();
      const result = await direct.db('x').command({ ping: 1 });
      assert.equal(result.ok, 1);
      const description = [
        ...(direct as unknown as TopologyView).topology!.description.servers.values()
      ][0]!;
      assert.equal(description.type, 'RSPrimary');
    } finally {
      await direct.close();
    }
    const description = [
      ...(started.client as unknown as TopologyView).topology!.description.servers.values()
    ][0]!;
    assert.equal(description.type, 'RSPrimary');
    assert.equal(
      (started.client as unknown as TopologyView).topology!.description.type,
      'ReplicaSetWithPrimary'
    );
  });

  it('answers ping on any database and buildInfo with the emulated version', async () => {
    assert.equal((await started.client.db('anything').command({ ping: 1 })).ok, 1);
    const info = await started.client.db('admin').command({ buildInfo: 1 });
    assert.match(info.version, /^7\.0\.\d+$/);
    assert.deepEqual(info.versionArray.slice(0, 2), [7, 0]);
    assert.equal(info.ferretdb, undefined);
  });

  it('reports featureCompatibilityVersion and rejects unknown parameters like mongod', async () => {
    const fcv = await started.client
      .db('admin')
      .command({ getParameter: 1, featureCompatibilityVersion: 1 });
    assert.deepEqual(fcv.featureCompatibilityVersion, { version: '7.0' });
    await assert.rejects(
      started.client.db('admin').command({ getParameter: 1, noSuchParameter: 1 }),
      (error: MongoServerError) => error.code === 72 && error.codeName === 'InvalidOptions'
    );
  });

  it('answers serverStatus and replSetGetStatus with the replica set state', async () => {
    const status = await started.client.db('admin').command({ serverStatus: 1 });
    assert.equal(status.process, 'mongod');
    assert.equal(status.repl.setName, 'rs0');
    const rs = await started.client.db('admin').command({ replSetGetStatus: 1 });
    assert.equal(rs.set, 'rs0');
    assert.equal(rs.myState, 1);
    assert.equal(rs.members.length, 1);
    assert.equal(rs.members[0].stateStr, 'PRIMARY');
    assert.ok(rs.optimes.appliedOpTime.ts instanceof BSON.Timestamp);
  });

  it('answers an unknown command with CommandNotFound, and command names are case-sensitive', async () => {
    for (const command of [{ noSuchCommand: 1 }, { PING: 1 }, { Find: 'c' }]) {
      await assert.rejects(
        started.client.db('test').command(command),
        (error: MongoServerError) => {
          assert.equal(error.code, 59);
          assert.equal(error.codeName, 'CommandNotFound');
          assert.equal(error.message, `no such command: '${Object.keys(command)[0]}'`);
          return true;
        }
      );
    }
  });

  it('puts $clusterTime and operationTime on successful and failed replies', async () => {
    const reply = await started.client.db('test').command({ ping: 1 });
    assert.ok(reply.$clusterTime.clusterTime instanceof BSON.Timestamp);
    assert.ok(reply.operationTime instanceof BSON.Timestamp);
    const failure = await started.client
      .db('test')
      .command({ noSuchCommand: 1 })
      .catch((error: MongoServerError) => error);
    assert.ok(failure instanceof MongoServerError);
    assert.ok(failure.errorResponse.operationTime instanceof BSON.Timestamp);
  });

  it('executes w:0 writes (moreToCome) without replying', async () => {
    const collection = started.client.db('test').collection<AnyDoc>('unacknowledged');
    await collection.insertOne({ _id: 1 }, { writeConcern: { w: 0 } });
    // The next command on the pool is answered only after the fire-and-forget insert ran.
    assert.equal(await collection.countDocuments({ _id: 1 }), 1);
  });

  it('ends sessions when the client closes', async () => {
    const client = new MongoClient(started.server.uri, { monitorCommands: true });
    const ended: BSON.Document[] = [];
    const failed: string[] = [];
    client.on('commandStarted', event => {
      if (event.commandName === 'endSessions') ended.push(event.command);
    });
    client.on('commandFailed', event => {
      if (event.commandName === 'endSessions') failed.push(event.failure.message);
    });
    await client.connect();
    const session = client.startSession();
    await client.db('test').collection<AnyDoc>('c').findOne({}, { session });
    const id = session.id!;
    await session.endSession();
    await client.close();
    assert.deepEqual(failed, [], 'the server accepts endSessions');
    assert.equal(ended.length, 1, 'the driver ended its pooled sessions on close');
    const ids = ended[0]!.endSessions as BSON.Document[];
    assert.ok(ids.some(sid => Buffer.from(BSON.serialize(sid)).equals(BSON.serialize(id))));
  });
});

describe('test server legacy OP_QUERY handling', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  async function opQuery(
    command: Record<string, unknown>,
    promoteValues = true
  ): Promise<BSON.Document> {
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    const body = BSON.serialize(command);
    const name = Buffer.from('admin.$cmd\0');
    const header = Buffer.alloc(20);
    const tail = Buffer.alloc(8);
    tail.writeInt32LE(0, 0);
    tail.writeInt32LE(-1, 4);
    const length = 20 + name.length + 8 + body.length;
    header.writeInt32LE(length, 0);
    header.writeInt32LE(7, 4);
    header.writeInt32LE(0, 8);
    header.writeInt32LE(2004, 12);
    header.writeInt32LE(0, 16);
    socket.write(Buffer.concat([header, name, tail, body]));
    const chunks: Buffer[] = [];
    for await (const chunk of socket) {
      chunks.push(chunk as Buffer);
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= all.readInt32LE(0)) {
        socket.destroy();
        assert.equal(all.readInt32LE(8), 7, 'responseTo is the request id');
        assert.equal(all.readInt32LE(12), 1, 'OP_REPLY');
        return BSON.deserialize(all.subarray(36), { promoteValues });
      }
    }
    throw new Error('connection closed without a reply');
  }

  it('answers the OP_QUERY handshake with OP_REPLY', async () => {
    const reply = await opQuery({ isMaster: 1, helloOk: true });
    assert.equal(reply.ismaster, true);
    assert.equal(reply.helloOk, true);
  });

  it('refuses other OP_QUERY commands with UnsupportedOpQueryCommand on 6.0+', async () => {
    const reply = await opQuery({ ping: 1 });
    assert.equal(reply.ok, 0);
    assert.equal(reply.code, 352);
    assert.equal(reply.codeName, 'UnsupportedOpQueryCommand');
    assert.match(reply.errmsg, /^Unsupported OP_QUERY command: ping\./);
  });

  it('keeps ok a double and connectionId an int32, as mongod types them', async () => {
    const raw = await opQuery({ isMaster: 1 }, false);
    assert.ok(raw.ok instanceof BSON.Double);
    assert.ok(raw.connectionId instanceof Int32);
  });
});
