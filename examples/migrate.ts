/**
 * A one-off migration script: copy the `shop` database into `shop_v2` (leaving out its `tmp_*`
 * collections), keep following the source while the application still writes to it, and at the
 * cutover take a fence, prove the two sides equal, and exit.
 *
 *   node --import tsx examples/migrate.ts
 *   MONGO_REPLICATE_SOURCE_URI=… MONGO_REPLICATE_TARGET_URI=… node --import tsx examples/migrate.ts
 *
 * With real URIs the script copies whatever `shop` holds; with the test servers it writes a
 * small shop first, and writes to it during the copy as an application would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MongoClient } from 'mongodb';

import { FileCheckpointStore, Replicator, Verifier } from '../src/index.js';
import { openDeployments } from './support/deployments.js';

const filter = {
  include: ['shop.*'],
  exclude: ['shop.tmp_*'],
  rename: { 'shop.*': 'shop_v2.*' }
};

const env = await openDeployments();
const workDir = await mkdtemp(join(tmpdir(), 'mongo-replicate-migrate-'));
const source = new MongoClient(env.sourceUri);
const target = new MongoClient(env.targetUri);
try {
  await Promise.all([source.connect(), target.connect()]);
  const shop = source.db('shop');
  if (env.local) {
    await shop
      .collection('products')
      .insertMany(
        Array.from({ length: 500 }, (_, i) => ({ sku: `P-${i}`, price: (i % 50) + 0.99 }))
      );
    await shop.collection('tmp_import').insertOne({ note: 'not migrated' });
  }
  const replicator = new Replicator({
    source: env.sourceUri,
    target: env.targetUri,
    mode: 'all',
    filter,
    // A file store keeps the target free of replication state; a restart of this script
    // resumes the copy where it stopped.
    checkpoint: { name: 'shop-v2', store: new FileCheckpointStore(join(workDir, 'checkpoints')) },
    full: { spoolDir: join(workDir, 'spool'), onExistingTarget: 'fail' }
  });
  replicator.on('phase', event => console.log(`phase: ${event.phase}`));
  replicator.on('conflict', event => console.warn('conflict', event.namespace, event.op));
  await replicator.start();
  if (env.local) {
    // The application keeps writing while the copy runs.
    await shop.collection('products').updateMany({ price: { $lt: 5 } }, { $inc: { price: 1 } });
    await shop.collection('orders').insertOne({ sku: 'P-1', qty: 2 });
  }
  if (replicator.phase !== 'incr') {
    await replicator.waitFor('phase', { filter: event => event.phase === 'incr' });
  }
  // Cutover: the application stops writing to the source here; the fence marks the point.
  const fence = await replicator.fence();
  await replicator.stop();
  console.log(`fence ${fence.optime.t}:${fence.optime.i} applied; verifying…`);
  const report = await new Verifier({ source, target, filter }).verify();
  for (const ns of report.namespaces) {
    console.log(
      `${ns.source} → ${ns.target}: ${ns.equal ? 'equal' : 'DIFFERENT'} (${ns.counts.target} documents)`
    );
  }
  console.log(
    report.equal ? 'migration verified: switch the application to shop_v2' : 'differences found'
  );
  process.exitCode = report.equal ? 0 : 1;
} finally {
  await Promise.allSettled([source.close(), target.close()]);
  await env.close();
  await rm(workDir, { recursive: true, force: true });
}
