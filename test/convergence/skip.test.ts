/**
 * Convergence with `filter.skip`: a seeded workload runs on the source while the replicator,
 * stopped and crashed at random points, tails it with some operations skipped. The target must
 * end equal, byte for byte, to an expected deployment that the workload built itself by
 * repeating every operation it made on the source except the skipped ones (see
 * skip-workload.ts): the source's history minus the skipped operations, computed without the
 * replicator. Re-run one seed with CONVERGENCE_SEED=<n>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MongoClient } from 'mongodb';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { type SkippableOperation } from '../../src/namespace/operation-filter.js';
import { Replicator } from '../../src/replicator.js';
import { type FetchMethod } from '../../src/replicator-options.js';
import { startTestServer } from '../server/server.js';
import { rawDocuments, waitAppliedMarker } from '../support/replication.js';
import { SKIP_COLLECTIONS, type SkipKinds, SkipWorkload } from '../support/skip-workload.js';
import { withTimeout } from '../support/timeout-signal.js';
import { seededRandom } from '../support/workload.js';

const SEEDS = Number(process.env.CONVERGENCE_SEEDS ?? 6);
const OPS_PER_PHASE = 60;
const PHASES = 3;
const DB = 'skipconv';

const SKIP_LISTS: readonly (readonly SkippableOperation[])[] = [
  ['delete', 'drop', 'dropDatabase'],
  ['update'],
  ['update', 'drop']
];

function kinds(skip: readonly SkippableOperation[]): SkipKinds {
  return {
    insert: skip.includes('insert'),
    update: skip.includes('update'),
    delete: skip.includes('delete'),
    drop: skip.includes('drop') || skip.includes('ddl')
  };
}

async function collectionNames(client: MongoClient): Promise<string[]> {
  const list = await client.db(DB).listCollections({}, { nameOnly: true }).toArray();
  return list
    .map(c => c.name)
    .filter(name => name !== 'marker')
    .sort();
}

async function runSeed(seed: number, fetchMethod: FetchMethod): Promise<void> {
  const skip = SKIP_LISTS[seed % SKIP_LISTS.length]!;
  const transactions = seed % 2 === 0 ? 'flatten' : 'preserve';
  const what = `seed ${seed} (${fetchMethod}, skip [${skip.join(', ')}], ${transactions})`;
  const [source, target, expected] = await Promise.all([
    startTestServer({ replSetName: 'source' }),
    startTestServer({ replSetName: 'target' }),
    startTestServer({ replSetName: 'expected' })
  ]);
  const clients = [source, target, expected].map(server => new MongoClient(server.uri));
  const [sourceClient, targetClient, expectedClient] = clients as [
    MongoClient,
    MongoClient,
    MongoClient
  ];
  const store = new MemoryCheckpointStore();
  const random = seededRandom(seed ^ 0x5c1b);
  const make = (signal?: AbortSignal) =>
    new Replicator({
      source: source.uri,
      target: target.uri,
      fetchMethod,
      transactions,
      filter: { include: [`${DB}.*`], skip },
      checkpoint: { name: `skip-${seed}`, store, intervalMs: Math.floor(random() * 3) * 50 },
      batcher: { maxOps: 1 + Math.floor(random() * 100), maxFillMs: 5 },
      applier: { lanes: 1 + Math.floor(random() * 8) },
      ...(signal ? { signal } : {})
    });
  try {
    await Promise.all(clients.map(client => client.connect()));
    const workload = new SkipWorkload(sourceClient, expectedClient, DB, kinds(skip), seed);
    let controller = new AbortController();
    let replicator = make(controller.signal);
    await replicator.start();
    for (let phase = 0; phase < PHASES; phase++) {
      await workload.run(OPS_PER_PHASE);
      if (random() < 0.5) {
        await replicator.stop();
      } else {
        controller.abort(new Error('simulated crash'));
        await replicator.done.catch(() => undefined);
      }
      // Written while nobody replicates: applied (or skipped) after the restart.
      await workload.run(OPS_PER_PHASE / 4);
      controller = new AbortController();
      replicator = make(controller.signal);
      await replicator.start();
    }
    await workload.run(OPS_PER_PHASE);
    await withTimeout(
      waitAppliedMarker(replicator, sourceClient, DB, 'marker'),
      30_000,
      'the replicator to catch up'
    );
    await replicator.stop();

    const names = await collectionNames(expectedClient);
    assert.deepEqual(await collectionNames(targetClient), names, `${what}: collections`);
    let compared = 0;
    for (const coll of SKIP_COLLECTIONS) {
      const wanted = await rawDocuments(expectedClient, DB, coll);
      assert.deepEqual(
        await rawDocuments(targetClient, DB, coll),
        wanted,
        `${what}: ${DB}.${coll} differs`
      );
      compared += wanted.length;
    }
    assert.ok(compared > 20, `${what}: only ${compared} documents to compare`);
  } finally {
    await Promise.allSettled(clients.map(client => client.close()));
    await Promise.allSettled([source.stop(), target.stop(), expected.stop()]);
  }
}

for (const fetchMethod of ['oplog', 'changeStream'] as FetchMethod[]) {
  describe(`replication with filter.skip converges on the source minus the skipped operations (${fetchMethod})`, () => {
    const only = process.env.CONVERGENCE_SEED;
    const seeds = only ? [Number(only)] : Array.from({ length: SEEDS }, (_, i) => 3000 + i);
    for (const seed of seeds) {
      it(`seed ${seed}`, { timeout: 120_000 }, () => runSeed(seed, fetchMethod));
    }
  });
}
