/**
 * Chains and failback with default checkpoint names: A → B and B → A' (A' is A under renamed
 * databases, standing for a third deployment or a failback) run at once, each keeping its
 * checkpoint under the name "default" in its own target. Each replicator reads the deployment
 * where the other one keeps its checkpoints, even with a filter that names mongo_replicate, yet
 * neither checkpoint is ever overwritten and nothing of the replicators' own travels.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { type Document } from 'mongodb';

import { Replicator } from '../../src/replicator.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments, waitAppliedMarker } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';

describe('replication chains with default checkpoint names', () => {
  let d: Deployments;
  let spoolDir: string;
  before(async () => {
    d = await startDeployments();
    spoolDir = await mkdtemp(join(tmpdir(), 'mr-chain-'));
  });
  after(async () => {
    await d.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  const checkpointOf = (side: 'source' | 'target') =>
    d[side]
      .db('mongo_replicate')
      .collection<Document>('checkpoints')
      .findOne({ _id: 'default' as never });

  it('A → B → A′ converges and each replicator keeps its own checkpoint', async () => {
    const db = uniqueDbName('chain');
    const back = `${db}_back`;
    const items = d.source.db(db).collection<{ _id: number; v: number }>('items');
    await items.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, v: i })));
    const forward = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'all',
      // Naming mongo_replicate changes nothing: the replicator never replicates its own state.
      filter: { include: [`${db}.*`, 'mongo_replicate.*'] },
      checkpoint: { name: 'default', intervalMs: 0 },
      full: { spoolDir: join(spoolDir, 'forward') }
    });
    const backward = new Replicator({
      source: d.targetUri,
      target: d.sourceUri,
      mode: 'all',
      filter: { include: [`${db}.*`, 'mongo_replicate.*'], rename: { [`${db}.*`]: `${back}.*` } },
      checkpoint: { name: 'default', intervalMs: 0 },
      full: { spoolDir: join(spoolDir, 'backward') }
    });
    try {
      await forward.start();
      await withTimeout(
        waitAppliedMarker(forward, d.source, db, 'marker'),
        30_000,
        'the forward copy and catch-up'
      );
      await backward.start();
      for (let i = 0; i < 30; i++) {
        await items.updateOne({ _id: i }, { $set: { v: i * 10 } });
        if (i % 3 === 0) await items.deleteOne({ _id: 40 + (i % 10) });
        await items.insertOne({ _id: 100 + i, v: i });
      }
      await withTimeout(waitAppliedMarker(forward, d.source, db, 'marker'), 30_000, 'A → B');
      await withTimeout(waitAppliedMarker(backward, d.target, db, 'marker'), 30_000, 'B → A′');
      const original = await rawDocuments(d.source, db, 'items');
      assert.deepEqual(await rawDocuments(d.target, db, 'items'), original, 'B equals A');
      assert.deepEqual(await rawDocuments(d.source, back, 'items'), original, 'A′ equals A');

      const onB = await checkpointOf('target');
      const onA = await checkpointOf('source');
      assert.ok(onB && onA);
      assert.notEqual(onB.sourceId, onA.sourceId, 'each checkpoint names its own source');
      assert.equal(
        await d.target.db('mongo_replicate').collection('checkpoints').countDocuments(),
        1,
        "B holds only the forward replicator's checkpoint"
      );
      assert.equal(
        await d.source.db('mongo_replicate').collection('checkpoints').countDocuments(),
        1,
        "A holds only the backward replicator's checkpoint"
      );
      // A restart of each resumes its own position, not the other's.
      assert.ok(forward.appliedOptime && backward.appliedOptime);
    } finally {
      await Promise.allSettled([forward.stop(), backward.stop()]);
    }
  });
});
