/**
 * One owner per checkpoint: a second replicator on a held checkpoint fails naming the holder, a
 * standby takes over when the owner stops (or loses the store), and an owner whose lease was
 * taken over writes nothing more.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type MongoClient } from 'mongodb';

import { type CheckpointStore } from '../../src/checkpoint/checkpoint-store.js';
import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { LeaseHeldError, LeaseLostError } from '../../src/errors.js';
import { ReplicatorMonitor } from '../../src/observability/replicator-monitor.js';
import { Replicator } from '../../src/replicator.js';
import { type LeaseEvent } from '../../src/replicator-events.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments, waitAppliedMarker } from '../support/replication.js';
import { timeoutSignal, waitUntil, withTimeout } from '../support/timeout-signal.js';

/** A store the replicators can be cut off from: renewals and saves fail, as over a dead link. */
class UnreachableStore extends MemoryCheckpointStore {
  unreachable = false;

  override renewLease(...args: Parameters<MemoryCheckpointStore['renewLease']>) {
    if (this.unreachable) return Promise.reject(new Error('connection timed out'));
    return super.renewLease(...args);
  }

  override save(...args: Parameters<MemoryCheckpointStore['save']>) {
    if (this.unreachable) return Promise.reject(new Error('connection timed out'));
    return super.save(...args);
  }
}

describe('one replicator per checkpoint (leases)', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  const replicator = (db: string, extra: { store?: CheckpointStore; standby?: boolean } = {}) =>
    new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'incr',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, intervalMs: 0, ...(extra.store ? { store: extra.store } : {}) },
      lease: { ttlMs: 2000 },
      ...(extra.standby ? { standby: true } : {})
    });

  async function writeSome(client: MongoClient, db: string, from: number, count: number) {
    const items = client.db(db).collection<{ _id: number; v: number }>('items');
    for (let i = from; i < from + count; i++) {
      await items.insertOne({ _id: i, v: i });
      if (i % 3 === 0) await items.updateOne({ _id: i }, { $inc: { v: 1000 } });
    }
  }

  const converged = async (db: string) =>
    assert.deepEqual(
      await rawDocuments(d.target, db, 'items'),
      await rawDocuments(d.source, db, 'items')
    );

  it('refuses a second replicator on a held checkpoint, naming the holder, before any write', async () => {
    const db = uniqueDbName('lease_held');
    const owner = replicator(db);
    await owner.start();
    try {
      const second = replicator(db);
      const started = Date.now();
      await assert.rejects(second.start(), (error: LeaseHeldError) => {
        assert.ok(error instanceof LeaseHeldError, String(error));
        assert.equal(error.code, 'MR_LEASE_HELD');
        assert.equal(error.holder.pid, process.pid);
        assert.match(error.message, /is held by process \d+ on .*standby/);
        return true;
      });
      assert.ok(Date.now() - started < 10_000, 'it fails fast');
      assert.equal(second.state, 'failed');
      // The owner goes on undisturbed.
      await writeSome(d.source, db, 0, 10);
      await withTimeout(waitAppliedMarker(owner, d.source, db, 'marker'), 30_000, 'the owner');
      await converged(db);
    } finally {
      await owner.stop();
    }
  });

  it('a standby waits, then takes over from where the owner stopped', async () => {
    const db = uniqueDbName('lease_standby');
    const owner = replicator(db);
    await owner.start();
    await writeSome(d.source, db, 0, 20);
    await withTimeout(waitAppliedMarker(owner, d.source, db, 'marker'), 30_000, 'the owner');
    const standby = replicator(db, { standby: true });
    const monitor = new ReplicatorMonitor(standby);
    const events: LeaseEvent[] = [];
    standby.on('lease', event => events.push(event));
    const starting = standby.start();
    try {
      await waitUntil(() => standby.state === 'standby', timeoutSignal(10_000, 'standby'));
      assert.equal(events[0]?.action, 'standby');
      assert.equal(events[0]?.holder?.pid, process.pid);
      assert.equal(monitor.status().state, 'standby');
      assert.equal(monitor.status().lease?.held, false);
      // Written while the owner still runs, and while nobody does.
      await writeSome(d.source, db, 100, 20);
      await owner.stop();
      await writeSome(d.source, db, 200, 20);
      await withTimeout(starting, 10_000, 'the takeover after a clean stop (no ttl to wait)');
      assert.equal(standby.state, 'running');
      assert.deepEqual(
        events.map(e => e.action),
        ['standby', 'acquired']
      );
      assert.equal(monitor.status().lease?.held, true);
      await writeSome(d.source, db, 300, 20);
      await withTimeout(waitAppliedMarker(standby, d.source, db, 'marker'), 30_000, 'standby');
      await converged(db);
    } finally {
      monitor.close();
      await standby.stop();
      await owner.stop();
    }
  });

  it('an owner cut off from its store stops writing; the standby takes over and converges', async () => {
    const db = uniqueDbName('lease_lost');
    const store = new UnreachableStore();
    const owner = replicator(db, { store });
    await owner.start();
    await writeSome(d.source, db, 0, 20);
    await withTimeout(waitAppliedMarker(owner, d.source, db, 'marker'), 30_000, 'the owner');
    const standby = replicator(db, { store, standby: true });
    const starting = standby.start();
    await waitUntil(() => standby.state === 'standby', timeoutSignal(10_000, 'standby'));
    let lostAt: number | undefined;
    let batchesAfterLoss = 0;
    owner.on('lease', event => {
      if (event.action === 'lost') lostAt = Date.now();
    });
    owner.on('batch', () => {
      if (lostAt !== undefined) batchesAfterLoss++;
    });
    store.unreachable = true;
    try {
      await assert.rejects(withTimeout(owner.done, 10_000, 'the owner to stop'), LeaseLostError);
      assert.ok(lostAt !== undefined);
      store.unreachable = false;
      await withTimeout(starting, 10_000, 'the standby to take the expired lease');
      await writeSome(d.source, db, 100, 30);
      await withTimeout(waitAppliedMarker(standby, d.source, db, 'marker'), 30_000, 'standby');
      await converged(db);
      assert.equal(batchesAfterLoss, 0, 'the owner applied nothing once it knew');
      assert.equal(owner.state, 'failed');
    } finally {
      await standby.stop();
      await owner.stop();
    }
  });
});
