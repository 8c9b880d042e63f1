/**
 * Convergence: a seeded random workload runs on the source while the replicator tails it; the
 * replicator is stopped gracefully or aborted at random points and restarted from its checkpoint;
 * at the end every collection must be byte-for-byte equal on the target (types and field order).
 * The seed is in the test name; re-run one with CONVERGENCE_SEED=<n>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { Replicator } from '../../src/replicator.js';
import { startTestServer } from '../server/server.js';
import { rawDocuments, waitCaughtUp } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';
import { seededRandom, Workload } from '../support/workload.js';

const SEEDS_PER_FORMAT = Number(process.env.CONVERGENCE_SEEDS ?? 20);
const OPS_PER_PHASE = 40;
const PHASES = 3;

async function runSeed(seed: number, version: string): Promise<void> {
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
      filter: { include: ['conv.*'] },
      checkpoint: { name: `conv-${seed}`, store, intervalMs: Math.floor(random() * 3) * 50 },
      batcher: { maxOps: 1 + Math.floor(random() * 200), maxFillMs: 5 },
      applier: { lanes: 1 + Math.floor(random() * 16) },
      ...(signal ? { signal } : {})
    });
  try {
    await Promise.all([sourceClient.connect(), targetClient.connect()]);
    const workload = new Workload(sourceClient, 'conv', seed);
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
      // Writes while nobody replicates must be picked up after the restart.
      await workload.run(Math.floor(OPS_PER_PHASE / 4));
      controller = new AbortController();
      replicator = make(controller.signal);
      await replicator.start();
    }
    await workload.run(OPS_PER_PHASE);
    await withTimeout(waitCaughtUp(replicator, sourceClient), 30_000, 'the replicator to catch up');
    await replicator.stop();
    let compared = 0;
    for (const coll of ['alpha', 'beta', 'gamma']) {
      const expected = await rawDocuments(sourceClient, 'conv', coll);
      const actual = await rawDocuments(targetClient, 'conv', coll);
      assert.deepEqual(actual, expected, `seed ${seed} (${version}): conv.${coll} differs`);
      compared += expected.length;
    }
    assert.ok(
      compared > 20,
      `seed ${seed}: the workload left only ${compared} documents to compare`
    );
  } finally {
    await Promise.allSettled([sourceClient.close(), targetClient.close()]);
    await Promise.allSettled([source.stop(), target.stop()]);
  }
}

for (const version of ['7.0', '4.4']) {
  describe(`incremental replication converges (${version} oplog format)`, () => {
    const only = process.env.CONVERGENCE_SEED;
    const seeds = only
      ? [Number(only)]
      : Array.from({ length: SEEDS_PER_FORMAT }, (_, i) => 1000 + i);
    for (const seed of seeds) {
      it(`seed ${seed}`, { timeout: 120_000 }, () => runSeed(seed, version));
    }
  });
}
