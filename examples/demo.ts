/**
 * `npm run demo`: starts a source and a target MongoDB test server (no MongoDB needed) and a
 * source that already holds a small shop. A Replicator in mode `all` copies it (collections,
 * indexes, a view) while the shop keeps taking orders, applies what was written during the copy,
 * keeps tailing new writes (updates, deletes, a transaction), and finally shows that every
 * collection on the target is byte-for-byte equal to the source.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Db, MongoClient } from 'mongodb';

import { Replicator } from '../src/index.js';
import { startTestServer } from '../test/server/server.js';
import { rawDocuments, waitCaughtUp } from '../test/support/replication.js';

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
replicator.on('phase', e => console.log(`  phase: ${e.phase}`));
let lastShown = 0;
replicator.on('progress', p => {
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
  await waitCaughtUp(replicator, sourceClient);
  await replicator.stop();
  console.log(
    '\nthe target has caught up; replicator stopped (checkpoint saved in mongo_replicate.checkpoints)\n'
  );

  for (const coll of ['customers', 'orders', 'paid_orders']) {
    const expected = await rawDocuments(sourceClient, 'shop', coll);
    const actual = await rawDocuments(targetClient, 'shop', coll);
    const equal =
      expected.length === actual.length && expected.every((doc, i) => doc === actual[i]);
    const info = (await targetClient.db('shop').listCollections({ name: coll }).toArray())[0];
    const indexes =
      info?.type === 'view'
        ? 'a view'
        : `indexes: ${(await targetClient.db('shop').collection(coll).listIndexes().toArray())
            .map(i => String(i.name))
            .join(', ')}`;
    console.log(
      `  shop.${coll.padEnd(11)} source ${String(expected.length).padStart(5)}  target ${String(actual.length).padStart(5)}  ${equal ? 'identical' : 'DIFFERENT'}  ${indexes}`
    );
    if (!equal) process.exitCode = 1;
  }
} finally {
  await replicator.stop().catch(() => undefined);
  await Promise.allSettled([sourceClient.close(), targetClient.close()]);
  await Promise.allSettled([source.stop(), target.stop()]);
  await rm(spoolDir, { recursive: true, force: true });
}
