/**
 * Convergence of mode `all`: the source holds data before the copy, a seeded random workload
 * writes during the whole copy and afterwards, and the replicator is crashed (forced stop) or
 * stopped gracefully at random points of the copy and of the catch-up, then restarted from its
 * checkpoint and spool. At the end every collection must be byte-for-byte equal on the target.
 * The seed is in the test name; re-run one with CONVERGENCE_SEED=<n>.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { MongoClient, type Timestamp } from 'mongodb';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { Replicator } from '../../src/replicator.js';
import { type FetchMethod } from '../../src/replicator-options.js';
import { startTestServer } from '../server/server.js';
import { rawDocuments, waitAppliedMarker } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';
import { UniqueWorkload } from '../support/unique-workload.js';
import { ValidatorWorkload } from '../support/validator-workload.js';
import { seededRandom, Workload } from '../support/workload.js';

const SEEDS = Number(process.env.CONVERGENCE_SEEDS ?? 20);
const COLLECTIONS = ['alpha', 'beta', 'gamma'];
const PREFILL = 150;
const OPS = 40;
const RESTARTS = 3;

/** Resolves at a random point: after some copy progress, or some applied batches. */
function crashPoint(replicator: Replicator, random: () => number): Promise<unknown> {
  const progressEvents = 1 + Math.floor(random() * 12);
  const batches = 1 + Math.floor(random() * 4);
  let progress = 0;
  let applied = 0;
  return new Promise(resolve => {
    replicator.on('progress', () => {
      if (++progress >= progressEvents) resolve('copy');
    });
    replicator.on('batch', () => {
      if (++applied >= batches) resolve('apply');
    });
    replicator.done.then(resolve, resolve);
  });
}

async function prefill(client: MongoClient, workload: Workload): Promise<void> {
  for (const coll of COLLECTIONS) {
    await client
      .db('conv')
      .collection<{ _id: string; v: number }>(coll)
      // String _ids the workload never generates (it uses "s-<n>").
      .insertMany(Array.from({ length: PREFILL }, (_, i) => ({ _id: `pre-${i}`, v: i })));
  }
  await workload.run(OPS);
}

async function assertConverged(source: MongoClient, target: MongoClient, what: string) {
  // Unique indexes relaxed during the copy and the catch-up are unique again, as on the source.
  const indexes = async (client: MongoClient) =>
    (await client.db('conv').collection('users').listIndexes().toArray())
      .filter(index => index.name !== '_id_')
      .map(index => ({ name: index.name, key: index.key, unique: index.unique }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  assert.deepEqual(await indexes(target), await indexes(source), `${what}: users' indexes`);
  for (const coll of ['users', 'validated']) {
    assert.deepEqual(
      await rawDocuments(target, 'conv', coll),
      await rawDocuments(source, 'conv', coll),
      `${what}: conv.${coll}`
    );
  }
  const options = async (client: MongoClient) =>
    (
      await client.db('conv').listCollections({ name: 'validated' }, { nameOnly: false }).toArray()
    )[0]?.options;
  assert.deepEqual(await options(target), await options(source), `${what}: the validator`);
  let compared = 0;
  for (const coll of COLLECTIONS) {
    const expected = await rawDocuments(source, 'conv', coll);
    assert.deepEqual(await rawDocuments(target, 'conv', coll), expected, `${what}: conv.${coll}`);
    compared += expected.length;
  }
  assert.ok(compared > PREFILL, `${what}: only ${compared} documents to compare`);
}

async function runSeed(seed: number, version: string, fetchMethod: FetchMethod): Promise<void> {
  const transactions = seed % 2 === 0 ? 'flatten' : 'preserve';
  const source = await startTestServer({ version, replSetName: 'source' });
  const target = await startTestServer({ replSetName: 'target' });
  const sourceClient = new MongoClient(source.uri);
  const targetClient = new MongoClient(target.uri);
  const spoolDir = await mkdtemp(join(tmpdir(), 'mr-conv-'));
  const store = new MemoryCheckpointStore();
  const random = seededRandom(seed ^ 0xa11);
  const make = (signal: AbortSignal) =>
    new Replicator({
      mode: 'all',
      source: source.uri,
      target: target.uri,
      filter: { include: ['conv.*'] },
      fetchMethod,
      transactions,
      checkpoint: { name: `all-${seed}`, store, intervalMs: Math.floor(random() * 3) * 50 },
      full: {
        spoolDir,
        indexes: random() < 0.5 ? 'before' : 'after',
        splitter: {
          minDocumentsPerRange: 10,
          maxRangesPerCollection: 1 + Math.floor(random() * 6)
        },
        executor: {
          readers: 1 + Math.floor(random() * 3),
          writers: 1 + Math.floor(random() * 3),
          chunkDocuments: 3 + Math.floor(random() * 20),
          readBatchSize: 5 + Math.floor(random() * 20)
        }
      },
      batcher: { maxOps: 1 + Math.floor(random() * 100), maxFillMs: 5 },
      applier: { lanes: 1 + Math.floor(random() * 8) },
      signal
    });
  try {
    await Promise.all([sourceClient.connect(), targetClient.connect()]);
    const workload = new Workload(sourceClient, 'conv', seed, COLLECTIONS);
    const users = new UniqueWorkload(sourceClient, 'conv', seed);
    const validated = new ValidatorWorkload(sourceClient, 'conv', seed);
    await prefill(sourceClient, workload);
    await users.setUp(12);
    await validated.setUp(10);
    for (let restart = 0; restart < RESTARTS; restart++) {
      const controller = new AbortController();
      const replicator = make(controller.signal);
      const crash = crashPoint(replicator, random);
      await replicator.start();
      // Writes during the copy and the catch-up, values moving between unique keys among them.
      await workload.run(OPS);
      await users.run(OPS / 2);
      await validated.run(OPS / 4);
      await withTimeout(crash, 60_000, 'a crash point');
      if (random() < 0.5) await replicator.stop();
      else {
        controller.abort(new Error('simulated crash'));
        await replicator.done.catch(() => undefined);
      }
    }
    const replicator = make(new AbortController().signal);
    await replicator.start();
    await workload.run(OPS);
    await users.run(OPS / 2);
    await withTimeout(
      (async () => {
        if (replicator.phase !== 'incr') {
          await replicator.waitFor('phase', { filter: e => e.phase === 'incr' });
        }
        await waitAppliedMarker(replicator, sourceClient, 'conv', 'marker');
      })(),
      60_000,
      'the replicator to finish the copy and catch up'
    );
    await replicator.stop();
    await assertConverged(
      sourceClient,
      targetClient,
      `seed ${seed} (${version}, ${fetchMethod}, ${transactions})`
    );
  } finally {
    await Promise.allSettled([sourceClient.close(), targetClient.close()]);
    await Promise.allSettled([source.stop(), target.stop()]);
    await rm(spoolDir, { recursive: true, force: true });
  }
}

const PROFILES: [version: string, fetchMethod: FetchMethod][] = [
  ['7.0', 'oplog'],
  ['4.4', 'oplog'],
  ['7.0', 'changeStream'],
  ['6.0', 'changeStream']
];

for (const [version, fetchMethod] of PROFILES) {
  describe(`mode all converges with crashes during copy and catch-up (${fetchMethod}, ${version} source)`, () => {
    const only = process.env.CONVERGENCE_SEED;
    const seeds = only ? [Number(only)] : Array.from({ length: SEEDS }, (_, i) => 2000 + i);
    for (const seed of seeds) {
      it(`seed ${seed}`, { timeout: 120_000 }, () => runSeed(seed, version, fetchMethod));
    }
  });
}

describe('mode all with an oplog shorter than the copy', () => {
  for (const fetchMethod of ['oplog', 'changeStream'] as const) {
    it(
      `the spool keeps every write made during the copy (${fetchMethod})`,
      { timeout: 120_000 },
      async () => {
        // A 1 MiB oplog, and a copy slow enough that the workload writes several times that.
        const source = await startTestServer({ replSetName: 'source', oplogSizeMb: 1 });
        const target = await startTestServer({ replSetName: 'target' });
        const sourceClient = new MongoClient(source.uri);
        const targetClient = new MongoClient(target.uri);
        const spoolDir = await mkdtemp(join(tmpdir(), 'mr-trunc-'));
        const store = new MemoryCheckpointStore();
        try {
          await Promise.all([sourceClient.connect(), targetClient.connect()]);
          const workload = new Workload(sourceClient, 'conv', 77, COLLECTIONS);
          await prefill(sourceClient, workload);
          await new UniqueWorkload(sourceClient, 'conv', 77).setUp(5);
          const replicator = new Replicator({
            mode: 'all',
            source: source.uri,
            target: target.uri,
            filter: { include: ['conv.*'] },
            fetchMethod,
            checkpoint: { name: 'trunc', store },
            full: {
              spoolDir,
              splitter: { minDocumentsPerRange: 10 },
              executor: { readers: 1, writers: 1, chunkDocuments: 2, readBatchSize: 2 }
            }
          });
          await replicator.start();
          const fullBeginTs = (await store.load('trunc'))!.fullBeginTs!;
          // Large writes while the copy runs, until the oplog no longer holds fullBeginTs.
          const big = sourceClient.db('conv').collection<{ _id: string; pad: string }>('alpha');
          let n = 0;
          const truncatedPast = async (ts: Timestamp) => {
            const [oldest] = await sourceClient
              .db('local')
              .collection('oplog.rs')
              .find({}, { sort: { $natural: 1 }, limit: 1 })
              .toArray();
            return oldest !== undefined && ts.lessThan(oldest.ts as Timestamp);
          };
          while (!(await truncatedPast(fullBeginTs))) {
            await big.insertOne({ _id: `big-${n++}`, pad: 'x'.repeat(50_000) });
          }
          assert.equal(replicator.phase, 'full', 'the oplog rolled over while the copy still ran');
          await workload.run(OPS);
          await withTimeout(
            replicator.waitFor('phase', { filter: e => e.phase === 'incr' }),
            60_000,
            'the copy and catch-up'
          );
          await withTimeout(
            waitAppliedMarker(replicator, sourceClient, 'conv', 'marker'),
            60_000,
            'the catch-up'
          );
          await replicator.stop();
          await assertConverged(sourceClient, targetClient, `truncated oplog (${fetchMethod})`);
        } finally {
          await Promise.allSettled([sourceClient.close(), targetClient.close()]);
          await Promise.allSettled([source.stop(), target.stop()]);
          await rm(spoolDir, { recursive: true, force: true });
        }
      }
    );
  }
});
