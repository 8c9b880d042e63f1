/**
 * Several workers on one sharded source (`shardWorker`), each reading one shard's oplog: the
 * target converges while chunks migrate between the workers' shards (a document's writes then
 * come from both), with cross-shard transactions and DDL; and when one worker is killed with
 * SIGKILL, a standby on its checkpoint takes its lease over and the target still converges.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Timestamp } from 'mongodb';

import { InvalidConfigError } from '../../src/errors.js';
import { compareOptimes } from '../../src/oplog/oplog-entry.js';
import { majorityOperationTime } from '../../src/orchestration/source-position.js';
import { Replicator } from '../../src/replicator.js';
import { type ReplicatorOptions } from '../../src/replicator-options.js';
import { type CliProcess, start } from '../support/cli-process.js';
import { DdlWorkload } from '../support/ddl-workload.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import {
  moveRandomChunk,
  shardAlphaAndBeta,
  type ShardedSource,
  startShardedSource
} from '../support/sharded-source.js';
import { waitUntil, withTimeout } from '../support/timeout-signal.js';
import { seededRandom, Workload } from '../support/workload.js';

/** What the CLI logs once it holds its checkpoint's lease. */
const TOOK = /Took the lease of checkpoint/;
const SEEDS = Number(process.env.MONGO_REPLICATE_SHARDED_SEEDS ?? 3);
const COLLECTIONS = ['alpha', 'beta', 'gamma', 'd0', 'd1', 'd2'];

describe('shard workers: one replicator per shard of a sharded source', () => {
  let d: Deployments;
  let sharded: ShardedSource;
  before(async () => {
    [d, sharded] = await Promise.all([startDeployments(), startShardedSource()]);
  });
  after(async () => {
    await Promise.all([d.close(), sharded.close()]);
  });

  const shardedDatabase = (db: string) => shardAlphaAndBeta(sharded, db);

  /** A worker of group `db` reading `shards`, on checkpoint `<db>-<name>`, from `startAt`. */
  function worker(
    db: string,
    startAt: Timestamp,
    name: string,
    shards: string[],
    extra: Partial<ReplicatorOptions> = {}
  ): Replicator {
    return new Replicator({
      source: sharded.uri,
      target: d.targetUri,
      mode: 'incr',
      fetchMethod: 'oplog',
      startAt,
      filter: { include: [`${db}.*`] },
      checkpoint: { name: `${db}-${name}`, intervalMs: 200 },
      shardWorker: { group: db, shards },
      ...extra
    });
  }

  /** Writes, DDL and chunk moves in `db`: `run(rounds)` returns how many chunks moved. */
  function migratingWorkload(db: string, seed: number) {
    const random = seededRandom(seed * 104_729);
    const writes = new Workload(sharded.client, db, seed);
    const ddl = new DdlWorkload(sharded.client, [db], seed);
    return async (rounds: number): Promise<number> => {
      let moved = 0;
      for (let round = 0; round < rounds; round++) {
        await writes.run(30);
        await ddl.run(3);
        if (await moveRandomChunk(sharded, [`${db}.alpha`, `${db}.beta`], random)) moved++;
      }
      return moved;
    };
  }

  async function assertConverged(db: string): Promise<void> {
    let compared = 0;
    for (const coll of COLLECTIONS) {
      const expected = await rawDocuments(sharded.client, db, coll);
      assert.deepEqual(await rawDocuments(d.target, db, coll), expected, `${db}.${coll}`);
      compared += expected.length;
    }
    assert.ok(compared > 40, `only ${compared} documents to compare`);
  }

  /** Resolves once every position is at or past `optime`. */
  async function allThrough(positions: () => (Timestamp | undefined)[], optime: Timestamp) {
    await waitUntil(
      () => positions().every(at => at !== undefined && compareOptimes(at, optime) >= 0),
      AbortSignal.timeout(60_000)
    );
  }

  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`two workers converge while chunks migrate between their shards (seed ${seed})`, async () => {
      const db = uniqueDbName(`workers${seed}`);
      await shardedDatabase(db);
      const startAt = await majorityOperationTime(sharded.client);
      const workers = sharded.shards.map((shard, index) =>
        worker(
          db,
          startAt,
          String(index),
          [shard],
          // One worker lags behind the other: a migrated document's older writes (read by
          // one) would otherwise land after its newer ones (read by the other).
          index === 0 ? { rateLimit: { opsPerSecond: 40 } } : {}
        )
      );
      await Promise.all(workers.map(worker => worker.start()));
      try {
        const moved = await migratingWorkload(db, seed)(6);
        assert.ok(moved > 0, 'chunks moved while the workers ran');
        const end = await majorityOperationTime(sharded.client);
        await allThrough(() => workers.map(worker => worker.appliedOptime), end);
      } finally {
        await Promise.all(workers.map(worker => worker.stop()));
      }
      await assertConverged(db);
    });
  }

  it('refuses shardWorker on a replica set source before writing anything', async () => {
    const name = uniqueDbName('notsharded');
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'incr',
      checkpoint: { name },
      shardWorker: { group: name, shards: ['shard0'] }
    });
    await assert.rejects(replicator.start(), (error: unknown) => {
      assert.ok(error instanceof InvalidConfigError);
      assert.equal(error.field, 'shardWorker');
      assert.match(error.message, /not a sharded cluster.*Nothing was written/);
      return true;
    });
    const checkpoint = await d.target
      .db('mongo_replicate')
      .collection('checkpoints')
      .findOne({ _id: name as never });
    assert.equal(checkpoint, null, 'no checkpoint, no lease');
  });

  it('refuses two workers of one group that read the same shard', async () => {
    const db = uniqueDbName('overlap');
    await shardedDatabase(db);
    const startAt = await majorityOperationTime(sharded.client);
    const both = worker(db, startAt, 'both', [...sharded.shards]);
    const one = worker(db, startAt, 'one', [sharded.shards[1]!]);
    await Promise.all([both.start(), one.start()]);
    try {
      // A DDL command is a barrier: the worker that reads it finds the other one's shards.
      await sharded.client.db(db).createCollection('made');
      const failure = await withTimeout(
        Promise.race([both.done, one.done]).then(
          () => undefined,
          (error: unknown) => error
        ),
        30_000,
        'a worker to refuse the overlap'
      );
      assert.ok(failure instanceof InvalidConfigError, String(failure));
      assert.equal(failure.field, 'shardWorker.shards');
      assert.match(failure.message, new RegExp(`reads ${sharded.shards[1]!} too`));
    } finally {
      await Promise.allSettled([both.stop(), one.stop()]);
    }
  });

  it('a standby takes over a worker killed with SIGKILL, and the target converges', async () => {
    const db = uniqueDbName('workerkill');
    await shardedDatabase(db);
    const startAt = await majorityOperationTime(sharded.client);
    const args = (index: number) => [
      'run',
      '--source',
      sharded.uri,
      '--target',
      d.targetUri,
      '--mode',
      'incr',
      '--fetch-method',
      'oplog',
      '--start-at',
      `${startAt.t}:${startAt.i}`,
      '--include',
      `${db}.*`,
      '--checkpoint-name',
      `${db}-${index}`,
      '--shard-worker-group',
      db,
      '--shards',
      sharded.shards[index]!,
      '--lease-ttl',
      '2000'
    ];
    const running: CliProcess[] = [];
    const other = worker(db, startAt, '1', [sharded.shards[1]!]);
    try {
      const victim = start(args(0));
      running.push(victim);
      await victim.waitForStderr(TOOK);
      const standby = start([...args(0), '--standby']);
      running.push(standby);
      await standby.waitForStderr(/Standing by/);
      await other.start();

      const workload = migratingWorkload(db, 2);
      await workload(3);
      victim.child.kill('SIGKILL');
      assert.equal((await victim.exited()).signal, 'SIGKILL');
      await workload(3);
      await standby.waitForStderr(TOOK, 30_000);

      const end = await majorityOperationTime(sharded.client);
      await allThrough(() => [other.appliedOptime], end);
      // The standby's position is in its checkpoint: converged once the target matches.
      await waitUntil(async () => {
        for (const coll of COLLECTIONS) {
          const expected = await rawDocuments(sharded.client, db, coll);
          const actual = await rawDocuments(d.target, db, coll);
          try {
            assert.deepEqual(actual, expected);
          } catch {
            return false;
          }
        }
        return true;
      }, AbortSignal.timeout(60_000));
    } finally {
      for (const cli of running) cli.child.kill('SIGTERM');
      await Promise.all(running.map(cli => cli.exited()));
      await withTimeout(other.stop(), 30_000, 'the other worker to stop');
    }
    await assertConverged(db);
  });
});
