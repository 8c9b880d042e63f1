/**
 * A shard that joins a sharded source while it is replicated with fetchMethod 'oplog': the
 * fetcher notices it, reads its oplog from there on, and the writes that land on it after a chunk
 * moves there reach the target.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Int32 } from 'mongodb';

import { type Logger } from '../../src/logger.js';
import { Replicator } from '../../src/replicator.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import {
  type ShardedSource,
  startShardedSource,
  startSpareShard
} from '../support/sharded-source.js';
import { withTimeout } from '../support/timeout-signal.js';

/** A logger that resolves `joined` once the fetcher says a shard joined. */
function joinWatcher(): { logger: Logger; joined: Promise<string> } {
  let resolve!: (message: string) => void;
  const joined = new Promise<string>(done => (resolve = done));
  const logger: Logger = {
    debug() {},
    info(message) {
      if (/joined the cluster/.test(message)) resolve(message);
    },
    warn() {},
    error() {}
  };
  return { logger, joined };
}

describe('a shard that joins the source cluster while replicating', () => {
  let d: Deployments;
  let sharded: ShardedSource;
  let spare: Awaited<ReturnType<typeof startSpareShard>>;
  before(async () => {
    [d, sharded, spare] = await Promise.all([
      startDeployments(),
      startShardedSource(),
      startSpareShard('joiner')
    ]);
  });
  after(async () => {
    await Promise.all([d.close(), sharded.close()]);
    await spare.stop();
  });

  it('is read from the moment it joins, and its writes reach the target', async () => {
    const db = uniqueDbName('joins');
    const admin = sharded.client.db('admin');
    await admin.command({ enableSharding: db });
    await admin.command({ shardCollection: `${db}.items`, key: { _id: 1 } });
    await admin.command({ split: `${db}.items`, middle: { _id: new Int32(100) } });
    const items = sharded.client.db(db).collection<{ _id: Int32; n: number }>('items');
    for (let i = 0; i < 20; i++) await items.insertOne({ _id: new Int32(i * 10), n: i });
    // The balancer would move chunks to the new shard as soon as it joins; this test moves one
    // itself once the replicator has noticed the shard.
    await admin.command({ balancerStop: 1 });
    const { logger, joined } = joinWatcher();
    const replicator = new Replicator({
      source: sharded.uri,
      target: d.targetUri,
      mode: 'all',
      fetchMethod: 'oplog',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db },
      logger
    });
    await replicator.start();
    try {
      const { shardAdded } = await admin.command({ addShard: spare.spec });
      const message = await withTimeout(joined, 30_000, 'the fetcher to notice the new shard');
      assert.match(message, new RegExp(`Shard ${String(shardAdded)} joined`));
      await admin.command({
        moveChunk: `${db}.items`,
        find: { _id: new Int32(150) },
        to: shardAdded
      });
      // Now on the new shard: inserts, updates and deletes of the moved chunk.
      for (let i = 0; i < 10; i++) await items.insertOne({ _id: new Int32(200 + i), n: i });
      await items.updateMany({ _id: { $gte: new Int32(100) } }, { $inc: { n: 100 } });
      await items.deleteOne({ _id: new Int32(150) });
      await withTimeout(replicator.fence(), 60_000, 'the fence');
    } finally {
      await replicator.stop();
      await admin.command({ balancerStart: 1 });
    }
    assert.deepEqual(
      await rawDocuments(d.target, db, 'items'),
      await rawDocuments(sharded.client, db, 'items')
    );
    const onNewShard = await sharded.client
      .db('config')
      .collection('chunks')
      .countDocuments({ shard: { $nin: sharded.shards } });
    assert.ok(onNewShard > 0, 'a chunk lives on the new shard');
  });
});
