/**
 * A sharded cluster as the target, through its mongos, with `targetSharding: 'source'`: every
 * collection sharded on the source is sharded on the target on the same key (before the copy
 * writes into it, and when the source shards one while replicating), and the data converges,
 * with both fetch methods, while the source's chunks migrate. A target that is not sharded is
 * refused before anything is written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Document, Int32 } from 'mongodb';

import { InvalidConfigError } from '../../src/errors.js';
import { Replicator } from '../../src/replicator.js';
import { Verifier } from '../../src/verify/verifier.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import {
  moveRandomChunk,
  shardAlphaAndBeta,
  type ShardedSource,
  startShardedSource,
  startShardedTarget
} from '../support/sharded-source.js';
import { withTimeout } from '../support/timeout-signal.js';
import { seededRandom, Workload } from '../support/workload.js';

const FETCH_METHODS = ['changeStream', 'oplog'] as const;

describe('a sharded target (targetSharding: source)', () => {
  let sharded: ShardedSource;
  let target: Awaited<ReturnType<typeof startShardedTarget>>;
  let d: Deployments;
  before(async () => {
    [sharded, target, d] = await Promise.all([
      startShardedSource(),
      startShardedTarget(),
      startDeployments()
    ]);
  });
  after(async () => {
    await Promise.all([sharded.close(), target.close(), d.close()]);
  });

  /** The target's shard key of `ns`, or undefined when it is not sharded there. */
  async function targetKey(ns: string): Promise<Document | undefined> {
    const doc = await target.client
      .db('config')
      .collection<{ _id: string; key: Document }>('collections')
      .findOne({ _id: ns });
    return doc?.key;
  }

  for (const fetchMethod of FETCH_METHODS) {
    it(`shards the target like the source and converges (fetchMethod ${fetchMethod})`, async () => {
      const db = uniqueDbName(`shtarget${fetchMethod === 'oplog' ? 'o' : 'c'}`);
      const admin = sharded.client.db('admin');
      await shardAlphaAndBeta(sharded, db);
      const workload = new Workload(sharded.client, db, 11);
      const random = seededRandom(31);
      await workload.run(60);

      const replicator = new Replicator({
        source: sharded.uri,
        target: target.uri,
        mode: 'all',
        fetchMethod,
        targetSharding: 'source',
        filter: { include: [`${db}.*`] },
        checkpoint: { name: db }
      });
      await replicator.start();
      try {
        await workload.run(40);
        await moveRandomChunk(sharded, [`${db}.alpha`, `${db}.beta`], random);
        if (replicator.phase !== 'incr') {
          await withTimeout(
            replicator.waitFor('phase', { filter: event => event.phase === 'incr' }),
            60_000,
            'the catch-up to end'
          );
        }
        // Sharded while replicating, on a key that is not _id: its writes carry the key.
        await admin.command({ shardCollection: `${db}.delta`, key: { k: 1 } });
        const delta = sharded.client.db(db).collection<{ _id: Int32; k: Int32 }>('delta');
        for (let i = 0; i < 30; i++) {
          await delta.insertOne({ _id: new Int32(i), k: new Int32(i % 7) });
        }
        await delta.updateMany({ k: new Int32(3) }, { $set: { touched: true } });
        await delta.deleteOne({ _id: new Int32(4), k: new Int32(4) });
        await workload.run(40);
        await moveRandomChunk(sharded, [`${db}.alpha`, `${db}.beta`], random);
        await withTimeout(replicator.fence(), 60_000, 'the fence');
      } finally {
        await replicator.stop();
      }
      assert.deepEqual(await targetKey(`${db}.alpha`), { _id: 'hashed' });
      assert.deepEqual(await targetKey(`${db}.beta`), { _id: 1 });
      assert.deepEqual(await targetKey(`${db}.delta`), { k: 1 });
      assert.equal(await targetKey(`${db}.gamma`), undefined, 'unsharded on the source');
      for (const coll of ['alpha', 'beta', 'gamma', 'delta']) {
        const expected = await rawDocuments(sharded.client, db, coll);
        assert.deepEqual(await rawDocuments(target.client, db, coll), expected, `${db}.${coll}`);
      }
      const report = await new Verifier({
        source: sharded.client,
        target: target.client,
        filter: { include: [`${db}.*`] }
      }).verify();
      assert.equal(report.equal, true, JSON.stringify(report.namespaces));
    });
  }

  it('refuses targetSharding source onto a replica set before writing anything', async () => {
    const db = uniqueDbName('shtargetrs');
    const replicator = new Replicator({
      source: sharded.uri,
      target: d.targetUri,
      mode: 'all',
      fetchMethod: 'changeStream',
      targetSharding: 'source',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db }
    });
    await assert.rejects(replicator.start(), (error: unknown) => {
      assert.ok(error instanceof InvalidConfigError);
      assert.equal(error.field, 'targetSharding');
      assert.match(error.message, /target is not a sharded cluster.*Nothing was written/);
      return true;
    });
    const checkpoint = await d.target
      .db('mongo_replicate')
      .collection('checkpoints')
      .findOne({ _id: db as never });
    assert.equal(checkpoint, null);
  });
});
