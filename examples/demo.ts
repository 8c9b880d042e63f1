/**
 * `npm run demo`: starts a source and a target MongoDB test server (no MongoDB needed), seeds the
 * source with a small shop, and shows what mongo-replicate will replicate: the namespaces, their
 * indexes, and the oplog a replicator tails.
 *
 * The replication pipeline itself is still being built (see the README's status); this demo does
 * not pretend to copy anything yet.
 */
import { MongoClient } from 'mongodb';

import { startTestServer } from '../test/server/server.js';

const source = await startTestServer({ replSetName: 'source' });
const target = await startTestServer({ replSetName: 'target' });
const sourceClient = new MongoClient(source.uri);
const targetClient = new MongoClient(target.uri);

try {
  await Promise.all([sourceClient.connect(), targetClient.connect()]);
  console.log(`source: ${source.uri}`);
  console.log(`target: ${target.uri}\n`);

  const shop = sourceClient.db('shop');
  const customers = Array.from({ length: 200 }, (_, i) => ({
    _id: i + 1,
    name: `Customer ${i + 1}`,
    email: `customer${i + 1}@example.com`,
    since: new Date(Date.UTC(2020, i % 12, 1 + (i % 28)))
  }));
  await shop.collection<{ _id: number }>('customers').insertMany(customers);
  await shop.collection('customers').createIndex({ email: 1 }, { unique: true });
  await shop.collection('orders').insertMany(
    Array.from({ length: 1000 }, (_, i) => ({
      customerId: 1 + (i % 200),
      total: Math.round(Math.random() * 50_000) / 100,
      items: [{ sku: `SKU-${i % 37}`, qty: 1 + (i % 3) }],
      status: i % 10 === 0 ? 'cancelled' : 'paid'
    }))
  );
  await shop.collection('orders').createIndex({ customerId: 1, status: 1 });
  await shop.collection('orders').updateMany({ status: 'cancelled' }, { $set: { refunded: true } });
  await shop.collection('orders').deleteMany({ total: { $lt: 5 } });

  console.log('mongo-replicate would copy these namespaces from the source:');
  const { databases } = await sourceClient.db('admin').admin().listDatabases();
  for (const { name } of databases) {
    if (['admin', 'config', 'local'].includes(name)) continue;
    for (const info of await sourceClient.db(name).listCollections().toArray()) {
      const collection = sourceClient.db(name).collection(info.name);
      const count = await collection.countDocuments();
      const indexes = (await collection.listIndexes().toArray())
        .map(index => index.name)
        .join(', ');
      console.log(
        `  ${name}.${info.name.padEnd(12)} ${String(count).padStart(5)} documents   indexes: ${indexes}`
      );
    }
  }

  const oplog = sourceClient.db('local').collection('oplog.rs');
  const entries = await oplog.countDocuments();
  const byOp = await oplog
    .aggregate([{ $group: { _id: '$op', n: { $sum: 1 } } }, { $sort: { _id: 1 } }])
    .toArray();
  const [newest] = await oplog.find().sort({ $natural: -1 }).limit(1).toArray();
  console.log(
    `\nThe source oplog holds ${entries} entries (${byOp.map(o => `${o._id}: ${o.n}`).join(', ')});`
  );
  const ts = newest?.ts as { t: number; i: number } | undefined;
  console.log(`incremental sync would continue from Timestamp(${ts?.t}, ${ts?.i}).`);
  const targetDbs = (await targetClient.db('admin').admin().listDatabases()).databases.map(
    d => d.name
  );
  console.log(
    `\nThe target currently holds: ${targetDbs.join(', ')} (nothing copied: the replicator is not built yet).`
  );
} finally {
  await Promise.all([sourceClient.close(), targetClient.close()]);
  await Promise.all([source.stop(), target.stop()]);
}
