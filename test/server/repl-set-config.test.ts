/**
 * Deployment identity: `replSetGetConfig` answers the configuration mongod 7.0 reports, whose
 * `settings.replicaSetId` identifies the deployment (fixed for a server, kept across restarts,
 * different for another server even under the same replica set name).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BSON, type Document, MongoClient, MongoServerError } from 'mongodb';

import { startWithClient } from './support.js';

async function config(client: { db(name: string): { command(cmd: Document): Promise<Document> } }) {
  return client.db('admin').command({ replSetGetConfig: 1 });
}

describe('test server replSetGetConfig', () => {
  it('answers the one-member configuration with a replicaSetId kept across restart()', async () => {
    const started = await startWithClient({ replSetName: 'src' });
    const other = await startWithClient({ replSetName: 'src' });
    try {
      const reply = await config(started.client);
      const cfg = reply.config as Document;
      assert.deepEqual(Object.keys(cfg), [
        '_id',
        'version',
        'term',
        'members',
        'protocolVersion',
        'writeConcernMajorityJournalDefault',
        'settings'
      ]);
      assert.equal(cfg._id, 'src');
      assert.equal(cfg.version, 1);
      assert.equal(cfg.term, 1);
      assert.deepEqual(cfg.members, [
        {
          _id: 0,
          host: `127.0.0.1:${started.server.port}`,
          arbiterOnly: false,
          buildIndexes: true,
          hidden: false,
          priority: 1,
          tags: {},
          secondaryDelaySecs: 0,
          votes: 1
        }
      ]);
      assert.equal(cfg.protocolVersion, 1);
      assert.equal(cfg.writeConcernMajorityJournalDefault, true);
      const id = cfg.settings.replicaSetId as BSON.ObjectId;
      assert.ok(id instanceof BSON.ObjectId);
      assert.deepEqual(Object.keys(cfg.settings), [
        'chainingAllowed',
        'heartbeatIntervalMillis',
        'heartbeatTimeoutSecs',
        'electionTimeoutMillis',
        'catchUpTimeoutMillis',
        'catchUpTakeoverDelayMillis',
        'getLastErrorModes',
        'getLastErrorDefaults',
        'replicaSetId'
      ]);
      assert.ok(id.equals((await config(started.client)).config.settings.replicaSetId));

      const committed = await started.client
        .db('admin')
        .command({ replSetGetConfig: 1, commitmentStatus: true });
      assert.equal(committed.commitmentStatus, true);
      const notAdmin = await started.client
        .db('test')
        .command({ replSetGetConfig: 1 })
        .catch((e: unknown) => e);
      assert.ok(notAdmin instanceof MongoServerError);
      assert.equal(notAdmin.code, 13);
      assert.equal(
        notAdmin.message,
        'replSetGetConfig may only be run against the admin database.'
      );

      await started.server.restart();
      // A new client: the old one's pooled connections were closed by the restart.
      const fresh = new MongoClient(started.server.uri, { serverSelectionTimeoutMS: 5000 });
      try {
        const restarted = (await config(fresh)).config as Document;
        assert.ok(id.equals(restarted.settings.replicaSetId), 'the id survives a restart');
        assert.equal(restarted.term, 2, 'the restart was an election');
      } finally {
        await fresh.close();
      }

      const otherId = (await config(other.client)).config.settings.replicaSetId as BSON.ObjectId;
      assert.ok(!id.equals(otherId), 'another deployment of the same name has another id');
    } finally {
      await started.close();
      await other.close();
    }
  });

  it('names the member delay slaveDelay under 4.4', async () => {
    const started = await startWithClient({ version: '4.4' });
    try {
      const [member] = (await config(started.client)).config.members as Document[];
      assert.equal(member!.slaveDelay, 0);
      assert.equal(member!.secondaryDelaySecs, undefined);
    } finally {
      await started.close();
    }
  });
});
