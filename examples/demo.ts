/**
 * `npm run demo`: starts a source and a target MongoDB test server (no MongoDB needed) and a
 * source that already holds a small shop. A Replicator in mode `all` copies it (collections,
 * indexes, a view) with a progress display while the shop keeps taking orders, applies what was
 * written during the copy, keeps tailing new writes (updates, deletes, a transaction) for a few
 * seconds, takes a cutover fence, and finally has the Verifier prove that every collection on
 * the target is byte-for-byte equal to the source, indexes and view included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Db, MongoClient } from 'mongodb';

import { ProgressDisplay } from '../src/cli/progress-display.js';
import { Replicator, ReplicatorMonitor, Verifier } from '../src/index.js';
import { startTestServer } from '../test/server/server.js';

const source = await startTestServer({ replSetName: 'source' });
const target = await startTestServer({ replSetName: 'target' });
const sourceClient = new MongoClient(source.uri);
const targetClient = new MongoClient(target.uri);
const spoolDir = await mkdtemp(join(tmpdir(), 'mongo-replicate-demo-'));
const replicator = new Replicator({
  source: source.uri,
  target: target.uri,
  mode: 'all',
  filter: { include: ['shop.*'] },
  checkpoint: { name: 'demo' },
  full: { spoolDir }
});
const monitor = new ReplicatorMonitor(replicator);
const interactive = process.stdout.isTTY === true;
// On a terminal: a bar per collection during the copy, then a live line; elsewhere, plain lines.
const display = new ProgressDisplay(replicator, {
  mode: interactive ? 'bars' : 'none',
  intervalMs: 250
});
replicator.on('phase', e => {
  if (!interactive) console.log(`  phase: ${e.phase}`);
});
let lastShown = 0;
replicator.on('progress', p => {
  if (interactive) return;
  if (p.overall.documents - lastShown < 1000 && p.rangesDone < p.rangesTotal) return;
  lastShown = p.overall.documents;
  console.log(
    `  copied ${p.overall.documents} of ~${p.overall.estimatedDocuments} documents (${p.namespace}: ${p.rangesDone}/${p.rangesTotal} ranges)`
  );
});

/** Orders placed by `count` customers; runs while the replicator copies. */
async function takeOrders(shop: Db, count: number, offset: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await shop.collection('orders').insertOne({
      customerId: 1 + ((offset + i) % 200),
      total: Math.round(Math.random() * 50_000) / 100,
      items: [{ sku: `SKU-${(offset + i) % 37}`, qty: 1 + (i % 3) }],
      status: 'paid'
    });
  }
}

try {
  await Promise.all([sourceClient.connect(), targetClient.connect()]);
  console.log(`source: ${source.uri}`);
  console.log(`target: ${target.uri}\n`);

  const shop = sourceClient.db('shop');
  await shop.collection<{ _id: number }>('customers').insertMany(
    Array.from({ length: 200 }, (_, i) => ({
      _id: i + 1,
      name: `Customer ${i + 1}`,
      email: `customer${i + 1}@example.com`,
      since: new Date(Date.UTC(2020, i % 12, 1 + (i % 28)))
    }))
  );
  await shop.collection('customers').createIndex({ email: 1 }, { unique: true });
  await takeOrders(shop, 3000, 0);
  await shop.createCollection('paid_orders', {
    viewOn: 'orders',
    pipeline: [{ $match: { status: 'paid' } }]
  });
  console.log('the source holds a shop: 200 customers, 3 000 orders, an index and a view\n');

  await replicator.start();
  console.log('replicator started (mode all: copy, then every write since the copy began)');
  // The shop keeps taking orders while it is copied.
  await takeOrders(shop, 300, 3000);
  await shop
    .collection('orders')
    .updateMany({ total: { $lt: 20 } }, { $set: { status: 'cancelled' } });
  await shop
    .collection<{ total: number; items: { sku: string; qty: number }[] }>('orders')
    .updateMany({ total: { $gt: 400 } }, { $push: { items: { sku: 'GIFT', qty: 1 } } });
  await shop.collection('orders').deleteMany({ total: { $lt: 5 } });
  const session = sourceClient.startSession();
  try {
    await session.withTransaction(async () => {
      await shop
        .collection<{ _id: number }>('customers')
        .updateOne({ _id: 1 }, { $set: { vip: true } }, { session });
      await shop
        .collection('orders')
        .insertOne({ customerId: 1, total: 99.5, items: [], status: 'paid' }, { session });
    });
  } finally {
    await session.endSession();
  }
  console.log('meanwhile: 300 new orders, 2 updateMany, 1 deleteMany and 1 transaction\n');

  if (replicator.phase !== 'incr') {
    await replicator.waitFor('phase', { filter: e => e.phase === 'incr' });
  }
  // Tailing: the shop keeps working for a few seconds, and every write follows to the target.
  const until = Date.now() + 3000;
  let orders = 3300;
  while (Date.now() < until) {
    await takeOrders(shop, 20, orders);
    orders += 20;
    await shop
      .collection('orders')
      .updateOne({ status: 'paid' }, { $set: { status: 'shipped', shippedAt: new Date() } });
  }
  // The cutover point: the shop stops writing, and the fence says when the target has it all.
  const fence = await replicator.fence();
  display.stop();
  const status = monitor.status();
  await replicator.stop();
  console.log(
    `\nthe target has applied everything up to the fence (${fence.durationMs.toFixed(0)} ms after it was written); replicator stopped\n`
  );

  const report = await new Verifier({
    source: sourceClient,
    target: targetClient,
    filter: { include: ['shop.*'] }
  }).verify();
  for (const ns of report.namespaces) {
    const what = ns.kind === 'view' ? 'view definition' : `${ns.counts.source} documents`;
    console.log(
      `  ${ns.source.padEnd(17)} ${ns.equal ? 'identical' : 'DIFFERENT'}  (${what}, options and indexes compared)`
    );
  }
  console.log(
    `\nsummary: ${status.copy?.documentsCopied ?? 0} documents copied, ${status.applied.ops} writes applied from the source, ${status.applied.conflicts} conflicts, verification ${report.equal ? 'EQUAL' : 'DIFFERENT'}`
  );
  if (!report.equal) process.exitCode = 1;
} finally {
  display.stop();
  monitor.close();
  await replicator.stop().catch(() => undefined);
  await Promise.allSettled([sourceClient.close(), targetClient.close()]);
  await Promise.allSettled([source.stop(), target.stop()]);
  await rm(spoolDir, { recursive: true, force: true });
}
