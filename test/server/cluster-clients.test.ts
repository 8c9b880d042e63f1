/**
 * Real clients through mongos: mongosh's sharding helpers (sh.*), mongoose, and the command
 * line's `--shards`.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { MongoClient } from 'mongodb';
import mongoose from 'mongoose';

import { withTimeout } from '../support/timeout-signal.js';
import { type TestCluster } from './cluster/cluster.js';
import { startTestServer } from './server.js';

const run = promisify(execFile);
const mongoshBin = join(
  dirname(createRequire(import.meta.url).resolve('mongosh/package.json')),
  'bin',
  'mongosh.js'
);

const script = `
sh.enableSharding('shop');
sh.shardCollection('shop.items', { sku: 1 });
db = db.getSiblingDB('shop');
db.items.insertMany([{ sku: 1 }, { sku: 5 }, { sku: 9 }]);
sh.splitAt('shop.items', { sku: 5 });
sh.moveChunk('shop.items', { sku: 5 }, 'shard1');
sh.stopBalancer();
const status = sh.status().value;
const items = status.databases.find(d => d.database._id === 'shop').collections['shop.items'];
print(JSON.stringify({
  shards: status.shards.map(s => s._id),
  balancerEnabled: status.balancer['Currently enabled'],
  migrations: status.balancer['Migration Results for the last 24 hours'],
  chunks: items.chunkMetadata,
  skus: db.items.find({}, { _id: 0 }).sort({ sku: 1 }).toArray().map(d => d.sku),
  balancerRunning: sh.isBalancerRunning().mode
}));
`;

describe('mongosh and mongoose through mongos', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestServer({ shards: 2, noopIntervalMs: 50 });
  });
  after(async () => {
    await cluster.stop();
  });

  it('runs sh.enableSharding, shardCollection, splitAt, moveChunk, stopBalancer and sh.status()', async () => {
    const { stdout } = await run(
      process.execPath,
      [mongoshBin, cluster.uri, '--quiet', '--norc', '--eval', script],
      {
        timeout: 60_000,
        env: { ...process.env, MONGOSH_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' }
      }
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.deepEqual(result, {
      shards: ['shard0', 'shard1'],
      balancerEnabled: 'no',
      migrations: { 1: 'Success' },
      chunks: [
        { shard: 'shard0', nChunks: 1 },
        { shard: 'shard1', nChunks: 1 }
      ],
      skus: [1, 5, 9],
      balancerRunning: 'off'
    });
    // The chunk from sku 5 lives on shard1, and its documents with it.
    const shard1 = new MongoClient(cluster.shards[1]!.uri, { serverSelectionTimeoutMS: 5000 });
    try {
      const skus = await shard1.db('shop').collection('items').distinct('sku');
      assert.deepEqual(skus.sort(), [5, 9]);
    } finally {
      await shard1.close();
    }
  });

  it('runs a mongoose model with a unique index on a sharded collection', async () => {
    const admin = new MongoClient(cluster.uri, { serverSelectionTimeoutMS: 5000 });
    try {
      await admin
        .db('admin')
        .command({ shardCollection: 'crm.users', key: { email: 1 }, unique: true });
    } finally {
      await admin.close();
    }
    const connection = await mongoose
      .createConnection(cluster.uri, { dbName: 'crm', serverSelectionTimeoutMS: 5000 })
      .asPromise();
    try {
      const User = connection.model(
        'User',
        new mongoose.Schema({
          email: { type: String, required: true, unique: true },
          visits: { type: Number, default: 0 }
        })
      );
      await User.init();
      const alice = await User.create({ email: 'alice@example.com' });
      await User.updateOne({ email: 'alice@example.com', _id: alice._id }, { $inc: { visits: 2 } });
      const updated = await User.findOneAndUpdate(
        { email: 'alice@example.com' },
        { $inc: { visits: 1 } },
        { new: true }
      );
      assert.equal(updated?.visits, 3);
      await assert.rejects(User.create({ email: 'alice@example.com' }), /E11000/);
      assert.equal(await User.countDocuments(), 1);
    } finally {
      await connection.close();
    }
  });
});

describe('test server command line with --shards', () => {
  it('prints the mongos URI first, then the config server and shards, and exits on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/server/cli.ts', '--port', '0', '--version', '6.0', '--shards', '2'],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: true }
    );
    const lines = createInterface({ input: child.stdout });
    const received: string[] = [];
    lines.on('line', line => received.push(line));
    try {
      await withTimeout(
        (async () => {
          while (received.length < 4) await once(lines, 'line');
        })(),
        30_000,
        'the cluster CLI to print its URIs'
      );
      assert.match(received[0]!, /^mongodb:\/\/127\.0\.0\.1:\d+\/$/);
      assert.match(received[1]!, /^config mongodb:\/\/127\.0\.0\.1:\d+\/\?replicaSet=configRepl$/);
      assert.match(received[3]!, /^shard1 mongodb:\/\/127\.0\.0\.1:\d+\/\?replicaSet=shard1$/);
      const client = new MongoClient(received[0]!, { serverSelectionTimeoutMS: 10_000 });
      try {
        const hello = await client.db('admin').command({ hello: 1 });
        assert.equal(hello.msg, 'isdbgrid');
        assert.equal(hello.maxWireVersion, 17);
      } finally {
        await client.close();
      }
    } finally {
      lines.close();
      const exited = once(child, 'exit');
      process.kill(-child.pid!, 'SIGTERM');
      const [code] = (await withTimeout(exited, 30_000, 'the CLI to exit')) as [number];
      assert.equal(code, 0);
    }
  });
});
