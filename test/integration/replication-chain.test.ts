/**
 * Chains and failback with default checkpoint names: A → B → C, and A → B with B → A' (A' is A
 * under renamed databases: a failback) run at once, each keeping its checkpoint under the name
 * "default" in its own target. Each replicator reads the deployment
 * where the other one keeps its checkpoints, even with a filter that names mongo_replicate, yet
 * neither checkpoint is ever overwritten and nothing of the replicators' own travels.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { type Document, type MongoClient } from 'mongodb';

import { Replicator } from '../../src/replicator.js';
import {
  type Deployments,
  startDeployments,
  startThirdDeployment,
  type ThirdDeployment,
  uniqueDbName
} from '../support/deployments.js';
import { rawDocuments, waitAppliedMarker } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';

describe('replication chains with default checkpoint names', () => {
  let d: Deployments;
  let c: ThirdDeployment;
  let spoolDir: string;
  before(async () => {
    d = await startDeployments();
    c = await startThirdDeployment(d);
    spoolDir = await mkdtemp(join(tmpdir(), 'mr-chain-'));
  });
  after(async () => {
    await c.close();
    await d.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  const checkpoints = (client: MongoClient) =>
    client.db('mongo_replicate').collection<Document>('checkpoints');
  const checkpointOf = (side: 'source' | 'target') =>
    checkpoints(d[side]).findOne({ _id: 'default' as never });
  /** Each test's replicators are new jobs: their "default" checkpoints go with them. */
  const forgetCheckpoints = () =>
    Promise.all(
      [d.source, d.target, c.client].map(client =>
        checkpoints(client).deleteOne({ _id: 'default' as never })
      )
    );

  it('A → B → C converges, B keeps its checkpoint, and nothing of the replicators reaches C', async () => {
    const db = uniqueDbName('chain3');
    // Against real MongoDB without a third deployment, C is A under renamed databases.
    const onC = c.separate ? db : `${db}_c`;
    const items = d.source.db(db).collection<{ _id: number; v: number }>('items');
    await items.insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: i, v: i })));
    const first = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'all',
      filter: { include: [`${db}.*`, 'mongo_replicate.*'] },
      checkpoint: { name: 'default', intervalMs: 0 },
      full: { spoolDir: join(spoolDir, 'ab') }
    });
    const second = new Replicator({
      source: d.targetUri,
      target: c.uri,
      mode: 'all',
      filter: {
        include: [`${db}.*`, 'mongo_replicate.*'],
        ...(c.separate ? {} : { rename: { [`${db}.*`]: `${onC}.*` } })
      },
      checkpoint: { name: 'default', intervalMs: 0 },
      full: { spoolDir: join(spoolDir, 'bc') }
    });
    try {
      await first.start();
      await withTimeout(waitAppliedMarker(first, d.source, db, 'marker'), 30_000, 'A → B copy');
      const checkpointOnB = await checkpointOf('target');
      await second.start();
      for (let i = 0; i < 20; i++) {
        await items.updateOne({ _id: i }, { $inc: { v: 100 } });
        await items.insertOne({ _id: 100 + i, v: i });
        if (i % 4 === 0) await items.deleteOne({ _id: 30 + i / 4 });
      }
      await withTimeout(first.fence(), 30_000, 'A → B fence');
      await withTimeout(waitAppliedMarker(second, d.target, db, 'marker'), 30_000, 'B → C');

      const original = await rawDocuments(d.source, db, 'items');
      assert.deepEqual(await rawDocuments(d.target, db, 'items'), original, 'B equals A');
      assert.deepEqual(await rawDocuments(c.client, onC, 'items'), original, 'C equals A');
      const [onB, onCNow] = await Promise.all([
        checkpointOf('target'),
        checkpoints(c.client).findOne({ _id: 'default' as never })
      ]);
      assert.equal(onB?.sourceId, checkpointOnB?.sourceId, "B's checkpoint still names A");
      assert.notEqual(onCNow?.sourceId, onB?.sourceId, "C's checkpoint names B, not A");
      assert.equal(await checkpoints(c.client).countDocuments(), 1, 'C holds one checkpoint');
      if (c.separate) {
        // The fence's marker and A → B's checkpoint, both in B's mongo_replicate, stay there:
        // C's mongo_replicate holds B → C's own checkpoint and the records of its copy.
        const names = await c.client.db('mongo_replicate').listCollections().toArray();
        assert.deepEqual(names.map(({ name }) => name).sort(), ['checkpoints', 'checkpoints.copy']);
        const records = await c.client
          .db('mongo_replicate')
          .collection<Document>('checkpoints.copy')
          .find()
          .toArray();
        assert.ok(records.length > 0);
        for (const record of records) {
          assert.equal(record.checkpoint, 'default');
          assert.equal(String(record.sourceNs).split('.')[0], db, 'a copy of B, never of A');
        }
      }
    } finally {
      await Promise.allSettled([first.stop(), second.stop()]);
      await forgetCheckpoints();
    }
  });

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
      await forgetCheckpoints();
    }
  });
});
