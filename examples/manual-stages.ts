/**
 * The stages wired by hand, without Replicator: OplogFetcher → ReplBatcher → HashedApplierPool,
 * with a checkpoint file written after applied batches. This is what Replicator does for mode
 * `incr`, for hosts that want their own control over each stage (or to put their own stage in
 * between).
 *
 *   node --import tsx examples/manual-stages.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MongoClient } from 'mongodb';

import {
  FileCheckpointStore,
  HashedApplierPool,
  NamespaceFilter,
  OplogFetcher,
  ReplBatcher
} from '../src/index.js';
import { openDeployments } from './support/deployments.js';

const env = await openDeployments();
const dir = await mkdtemp(join(tmpdir(), 'mongo-replicate-stages-'));
const source = new MongoClient(env.sourceUri);
const target = new MongoClient(env.targetUri);
try {
  await Promise.all([source.connect(), target.connect()]);
  const store = new FileCheckpointStore(dir);
  const saved = await store.load('manual');

  const fetcher = new OplogFetcher({ source, start: saved?.lastApplied ?? 'latest' });
  const batcher = new ReplBatcher({
    input: fetcher.output,
    filter: new NamespaceFilter({ include: ['inventory.*'] }),
    maxOps: 500
  });
  const pool = new HashedApplierPool({ input: batcher.output, target, source, lanes: 8 });
  let applied = 0;
  pool.on('applied', batch => {
    applied += batch.ops;
    // Not awaited: the store runs saves of one name in call order. A failed save only delays the
    // checkpoint (the next one covers it), so it is reported, not fatal.
    store
      .save({
        name: 'manual',
        version: 1,
        mode: 'incr',
        phase: 'incr',
        lastApplied: batch.checkpointOptime,
        updatedAt: new Date()
      })
      .catch((error: unknown) => console.error('checkpoint not saved:', error));
  });
  // Consumers first, so nothing fills a queue nobody reads.
  await pool.start();
  await batcher.start();
  await fetcher.start();

  const items = source.db('inventory').collection<{ _id: number; qty: number }>('items');
  await items.insertMany(Array.from({ length: 100 }, (_, i) => ({ _id: i, qty: 10 })));
  await items.updateMany({ _id: { $lt: 50 } }, { $inc: { qty: -1 } });
  await pool.waitFor('applied', { filter: () => applied >= 150 });

  // Stop in data-flow order: each stage drains what it was given, then closes its output.
  await fetcher.stop();
  await batcher.stop();
  await pool.stop();
  const copied = await target.db('inventory').collection('items').countDocuments({ qty: 9 });
  console.log(`${applied} writes applied; ${copied} items have qty 9 on the target`);
  process.exitCode = copied === 50 ? 0 : 1;
} finally {
  await Promise.allSettled([source.close(), target.close()]);
  await env.close();
  await rm(dir, { recursive: true, force: true });
}
