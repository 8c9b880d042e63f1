/**
 * A sharded cluster as the source, through its mongos: with change streams (one cluster-wide
 * stream) and with the oplog (every shard's oplog, merged in cluster-time order), mode `all`
 * converges while chunks migrate during the copy and the tailing, with the balancer on,
 * cross-shard transactions, DDL and a unique index whose values move.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Int32 } from 'mongodb';

import { Replicator } from '../../src/replicator.js';
import { Verifier } from '../../src/verify/verifier.js';
import { DdlWorkload } from '../support/ddl-workload.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import {
  moveRandomChunk,
  type ShardedSource,
  startShardedSource
} from '../support/sharded-source.js';
import { withTimeout } from '../support/timeout-signal.js';
import { UniqueWorkload } from '../support/unique-workload.js';
import { seededRandom, Workload } from '../support/workload.js';

const SEEDS = Number(process.env.MONGO_REPLICATE_SHARDED_SEEDS ?? 2);
const FETCH_METHODS = ['changeStream', 'oplog'] as const;

describe('a sharded source (through its mongos)', () => {
  let d: Deployments;
  let sharded: ShardedSource;
  before(async () => {
    [d, sharded] = await Promise.all([startDeployments(), startShardedSource()]);
  });
  after(async () => {
    await Promise.all([d.close(), sharded.close()]);
  });

  for (let seed = 1; seed <= SEEDS; seed++) {
    for (const fetchMethod of FETCH_METHODS) {
      it(`mode all with fetchMethod ${fetchMethod} converges while chunks migrate (seed ${seed})`, async () => {
        const db = uniqueDbName(`sharded${seed}${fetchMethod === 'oplog' ? 'o' : 'c'}`);
        const random = seededRandom(seed * 7919);
        const admin = sharded.client.db('admin');
        await admin.command({ enableSharding: db });
        // alpha: hashed on _id; beta: ranges of _id moved by hand; gamma and users: unsharded.
        await admin.command({ shardCollection: `${db}.alpha`, key: { _id: 'hashed' } });
        await admin.command({ shardCollection: `${db}.beta`, key: { _id: 1 } });
        const workload = new Workload(sharded.client, db, seed);
        const users = new UniqueWorkload(sharded.client, db, seed);
        await users.setUp(8);
        // DDL of unsharded collections (created, renamed, dropped on their primary shard).
        const ddl = new DdlWorkload(sharded.client, [db], seed);
        await workload.run(60);
        const moveSomeChunk = () => moveRandomChunk(sharded, [`${db}.alpha`, `${db}.beta`], random);
        // Split beta at an Int32 _id so both shards hold part of it.
        await admin
          .command({ split: `${db}.beta`, middle: { _id: new Int32(20) } })
          .catch(() => undefined);

        const replicator = new Replicator({
          source: sharded.uri,
          target: d.targetUri,
          mode: 'all',
          fetchMethod,
          filter: { include: [`${db}.*`] },
          checkpoint: { name: db },
          // Slow at first, so the copy is still running while chunks move.
          rateLimit: { opsPerSecond: 20 }
        });
        await replicator.start();
        try {
          // During the copy and its catch-up, then while tailing: writes and migrations.
          let movedDuringCopy = 0;
          for (let round = 0; round < 4; round++) {
            await workload.run(25);
            await users.run(10);
            await ddl.run(2);
            if ((await moveSomeChunk()) && replicator.phase === 'full') movedDuringCopy++;
          }
          assert.ok(movedDuringCopy > 0, 'a chunk moved while the copy ran');
          replicator.setRateLimit({});
          if (replicator.phase !== 'incr') {
            await withTimeout(
              replicator.waitFor('phase', { filter: event => event.phase === 'incr' }),
              60_000,
              'the catch-up to end'
            );
          }
          let movedWhileTailing = 0;
          for (let round = 0; round < 3; round++) {
            await workload.run(25);
            await users.run(10);
            await ddl.run(2);
            if (await moveSomeChunk()) movedWhileTailing++;
          }
          assert.ok(movedWhileTailing > 0, 'chunks moved while tailing');
          await withTimeout(replicator.fence(), 60_000, 'the fence');
        } finally {
          await replicator.stop();
        }
        let compared = 0;
        for (const coll of ['alpha', 'beta', 'gamma', 'users', 'd0', 'd1', 'd2']) {
          const expected = await rawDocuments(sharded.client, db, coll);
          assert.deepEqual(await rawDocuments(d.target, db, coll), expected, `${db}.${coll}`);
          compared += expected.length;
        }
        assert.ok(compared > 40, `only ${compared} documents to compare`);
        const unique = (await d.target.db(db).collection('users').listIndexes().toArray()).filter(
          index => index.unique === true
        );
        assert.ok(unique.length > 0, 'the unique indexes are unique again on the target');
        // The Verifier reads the sharded side through its mongos too.
        const report = await new Verifier({
          source: sharded.client,
          target: d.target,
          filter: { include: [`${db}.*`] }
        }).verify();
        assert.equal(report.equal, true, JSON.stringify(report.namespaces));
        assert.ok(report.namespaces.length >= 4, 'every collection was verified');
      });
    }
  }
});
