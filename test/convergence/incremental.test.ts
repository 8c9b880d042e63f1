/**
 * Convergence: a seeded random workload runs on the source while the replicator tails it; the
 * replicator is stopped gracefully or aborted at random points and restarted from its checkpoint;
 * at the end every collection must be byte-for-byte equal on the target (types and field order).
 * The seed is in the test name; re-run one with CONVERGENCE_SEED=<n>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type MongoClient } from 'mongodb';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { Replicator } from '../../src/replicator.js';
import { type FetchMethod } from '../../src/replicator-options.js';
import { startTestServer } from '../server/server.js';
import { DdlWorkload } from '../support/ddl-workload.js';
import { rawDocuments, waitAppliedMarker } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';
import { UniqueWorkload } from '../support/unique-workload.js';
import { ValidatorWorkload } from '../support/validator-workload.js';
import { seededRandom, Workload } from '../support/workload.js';

const SEEDS_PER_FORMAT = Number(process.env.CONVERGENCE_SEEDS ?? 20);
const OPS_PER_PHASE = 40;
const PHASES = 3;
const DDL_PER_PHASE = 4;
const DBS = ['conv', 'conv_other'] as const;

interface Profile {
  /** The source's emulated version. */
  readonly version: string;
  readonly fetchMethod: FetchMethod;
}

/** Collections (name, type, options) and their indexes, as listed, in name order. */
async function catalog(client: MongoClient, db: string): Promise<unknown[]> {
  const colls = await client.db(db).listCollections({}, { nameOnly: false }).toArray();
  const out: unknown[] = [];
  for (const coll of colls.sort((a, b) => a.name.localeCompare(b.name))) {
    const indexes =
      coll.type === 'collection'
        ? (await client.db(db).collection(coll.name).listIndexes().toArray()).sort((a, b) =>
            String(a.name).localeCompare(String(b.name))
          )
        : [];
    out.push({
      name: coll.name,
      type: coll.type,
      options: 'options' in coll ? coll.options : undefined,
      indexes
    });
  }
  return out;
}

async function runSeed(seed: number, profile: Profile): Promise<void> {
  const { version, fetchMethod } = profile;
  // Both transaction modes run with every fetch method and format.
  const transactions = seed % 2 === 0 ? 'flatten' : 'preserve';
  const what = `seed ${seed} (${version}, ${fetchMethod}, ${transactions})`;
  const source = await startTestServer({ version, replSetName: 'source' });
  const target = await startTestServer({ replSetName: 'target' });
  const { MongoClient } = await import('mongodb');
  const sourceClient = new MongoClient(source.uri);
  const targetClient = new MongoClient(target.uri);
  const store = new MemoryCheckpointStore();
  const random = seededRandom(seed ^ 0x5eed);
  const make = (signal?: AbortSignal) =>
    new Replicator({
      source: source.uri,
      target: target.uri,
      filter: { include: DBS.map(db => `${db}.*`) },
      fetchMethod,
      transactions,
      checkpoint: { name: `conv-${seed}`, store, intervalMs: Math.floor(random() * 3) * 50 },
      batcher: { maxOps: 1 + Math.floor(random() * 200), maxFillMs: 5 },
      applier: { lanes: 1 + Math.floor(random() * 16) },
      ...(signal ? { signal } : {})
    });
  try {
    await Promise.all([sourceClient.connect(), targetClient.connect()]);
    const workload = new Workload(sourceClient, 'conv', seed);
    const ddl = new DdlWorkload(sourceClient, DBS, seed);
    const users = new UniqueWorkload(sourceClient, 'conv', seed);
    const validated = new ValidatorWorkload(sourceClient, 'conv', seed);
    let controller = new AbortController();
    let replicator = make(controller.signal);
    await replicator.start();
    // Created while replicating: the collections, their unique indexes and validator arrive as
    // DDL; some documents break the validator (written with validation bypassed).
    await users.setUp(8);
    await validated.setUp(6);
    for (let phase = 0; phase < PHASES; phase++) {
      await workload.run(OPS_PER_PHASE);
      await users.run(OPS_PER_PHASE / 2);
      await validated.run(OPS_PER_PHASE / 4);
      await ddl.run(DDL_PER_PHASE);
      if (random() < 0.5) {
        await replicator.stop();
      } else {
        controller.abort(new Error('simulated crash'));
        await replicator.done.catch(() => undefined);
      }
      // Writes while nobody replicates must be picked up after the restart.
      await workload.run(Math.floor(OPS_PER_PHASE / 4));
      await users.run(Math.floor(OPS_PER_PHASE / 4));
      await ddl.run(1);
      controller = new AbortController();
      replicator = make(controller.signal);
      await replicator.start();
    }
    await workload.run(OPS_PER_PHASE);
    await ddl.run(DDL_PER_PHASE);
    await withTimeout(
      waitAppliedMarker(replicator, sourceClient, 'conv', 'marker'),
      30_000,
      'the replicator to catch up'
    );
    await replicator.stop();
    let compared = 0;
    for (const coll of ['alpha', 'beta', 'gamma', 'users', 'validated']) {
      const expected = await rawDocuments(sourceClient, 'conv', coll);
      const actual = await rawDocuments(targetClient, 'conv', coll);
      assert.deepEqual(actual, expected, `${what}: conv.${coll} differs`);
      compared += expected.length;
    }
    assert.ok(compared > 20, `${what}: the workload left only ${compared} documents to compare`);
    for (const db of DBS) {
      assert.deepEqual(
        await catalog(targetClient, db),
        await catalog(sourceClient, db),
        `${what}: catalog of ${db}`
      );
      for (const coll of await sourceClient
        .db(db)
        .listCollections({ name: /^d[0-9]$/ })
        .toArray()) {
        assert.deepEqual(
          await rawDocuments(targetClient, db, coll.name),
          await rawDocuments(sourceClient, db, coll.name),
          `${what}: ${db}.${coll.name} differs`
        );
      }
    }
  } finally {
    await Promise.allSettled([sourceClient.close(), targetClient.close()]);
    await Promise.allSettled([source.stop(), target.stop()]);
  }
}

const PROFILES: Profile[] = [
  { version: '7.0', fetchMethod: 'oplog' },
  { version: '4.4', fetchMethod: 'oplog' },
  { version: '7.0', fetchMethod: 'changeStream' },
  { version: '6.0', fetchMethod: 'changeStream' }
];

for (const profile of PROFILES) {
  describe(`incremental replication converges (${profile.fetchMethod}, ${profile.version} source)`, () => {
    const only = process.env.CONVERGENCE_SEED;
    const seeds = only
      ? [Number(only)]
      : Array.from({ length: SEEDS_PER_FORMAT }, (_, i) => 1000 + i);
    for (const seed of seeds) {
      it(`seed ${seed}`, { timeout: 120_000 }, () => runSeed(seed, profile));
    }
  });
}
