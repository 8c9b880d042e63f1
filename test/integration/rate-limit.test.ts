/**
 * `rateLimit` caps what is written to the target, measured where it matters: the rate at which
 * batches are applied (over more than 5 s) and the rate of the full copy. The source's writes are
 * all made before the replicator starts, so the source is always fast enough; the limit is low
 * (200 ops/s) so that a loaded machine still reaches it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { InvalidConfigError } from '../../src/errors.js';
import { type LagEvent } from '../../src/events.js';
import { ReplicatorMonitor } from '../../src/observability/replicator-monitor.js';
import { Replicator } from '../../src/replicator.js';
import { newestOplogTs } from '../server/support.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { withTimeout } from '../support/timeout-signal.js';

const RATE = 200;

/** Inserts `count` documents into `db.items`, 100 per round trip. */
async function fill(d: Deployments, db: string, count: number): Promise<void> {
  const items = d.source.db(db).collection<{ _id: number; pad: string }>('items');
  for (let start = 0; start < count; start += 100) {
    const ids = Array.from({ length: Math.min(100, count - start) }, (_, i) => start + i);
    await items.insertMany(ids.map(_id => ({ _id, pad: 'x'.repeat(50) })));
  }
}

describe('rateLimit', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  it(`holds the apply rate within 10% of ${RATE} ops/s over more than 5 s, and says so`, async t => {
    const db = uniqueDbName('rate_apply');
    const total = 2_000;
    const startAt = await newestOplogTs(d.source);
    await fill(d, db, total);
    const replicator = new Replicator({
      source: d.source,
      target: d.target,
      startAt,
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store: new MemoryCheckpointStore() },
      // Small batches: each `batch` event is then a fine-grained sample of the applied rate.
      batcher: { maxOps: 20 },
      fetcher: { lagIntervalMs: 100 },
      rateLimit: { opsPerSecond: RATE }
    });
    const monitor = new ReplicatorMonitor(replicator);
    const samples: { at: number; applied: number }[] = [];
    let applied = 0;
    replicator.on('batch', event => {
      applied += event.ops;
      samples.push({ at: performance.now(), applied });
    });
    const lags: LagEvent[] = [];
    replicator.on('lag', event => lags.push(event));
    await replicator.start();
    try {
      // More than 5 s of measurement after the first batch.
      const measured = Math.round(RATE * 5.5);
      await withTimeout(
        replicator.waitFor('batch', { filter: () => applied >= measured }),
        30_000,
        `${measured} ops to be applied`
      );
      const status = monitor.status();
      assert.equal(status.heldBack, 'rateLimit');
      assert.equal(status.rateLimit.opsPerSecond, RATE);
      assert.equal(status.rateLimit.limiting, true);
      assert.ok(status.rateLimit.heldBackMs > 1_000, `held back ${status.rateLimit.heldBackMs} ms`);
      assert.ok(
        lags.some(lag => lag.heldBack === 'rateLimit'),
        'a lag event says the limit holds replication back'
      );

      const first = samples[0]!;
      const last = samples.at(-1)!;
      const seconds = (last.at - first.at) / 1000;
      const rate = (last.applied - first.applied) / seconds;
      t.diagnostic(`applied ${rate.toFixed(1)} ops/s over ${seconds.toFixed(2)} s (limit ${RATE})`);
      assert.ok(seconds >= 5, `measured over ${seconds.toFixed(2)} s`);
      assert.ok(
        rate <= RATE * 1.1 && rate >= RATE * 0.9,
        `applied ${rate.toFixed(1)} ops/s over ${seconds.toFixed(2)} s; limit ${RATE}`
      );

      // Lifted while running: the rest is applied at once.
      replicator.setRateLimit({});
      assert.deepEqual(replicator.rateLimit, {});
      const lifted = performance.now();
      const rest = total - applied;
      await withTimeout(
        replicator.waitFor('batch', { filter: () => applied >= total }),
        30_000,
        'the rest to be applied'
      );
      const restRate = rest / ((performance.now() - lifted) / 1000);
      t.diagnostic(`without the limit: ${restRate.toFixed(0)} ops/s`);
      assert.ok(restRate > RATE * 2, `without the limit: ${restRate.toFixed(0)} ops/s`);
      assert.equal(await d.target.db(db).collection('items').countDocuments(), total);
      assert.equal(monitor.status().rateLimit.opsPerSecond, null);
    } finally {
      await replicator.stop();
      monitor.close();
    }
  });

  it('holds the full copy to the limit too', async t => {
    const db = uniqueDbName('rate_copy');
    const total = 600;
    const limit = 300;
    await fill(d, db, total);
    const replicator = new Replicator({
      source: d.source,
      target: d.target,
      mode: 'full',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store: new MemoryCheckpointStore() },
      rateLimit: { opsPerSecond: limit }
    });
    const monitor = new ReplicatorMonitor(replicator);
    const copied: { at: number; documents: number }[] = [];
    replicator.on('progress', event => {
      copied.push({ at: performance.now(), documents: event.overall.documents });
    });
    let sawHeldBack = false;
    replicator.on('progress', () => {
      sawHeldBack ||= monitor.status().heldBack === 'rateLimit';
    });
    await replicator.start();
    await withTimeout(replicator.done, 30_000, 'the copy');
    monitor.close();
    assert.equal(await d.target.db(db).collection('items').countDocuments(), total);
    const first = copied[0]!;
    const last = copied.at(-1)!;
    assert.equal(last.documents, total);
    // Written in pieces of a tenth of a second's worth: never faster than the limit.
    const rate = (last.documents - first.documents) / ((last.at - first.at) / 1000);
    t.diagnostic(`copied ${rate.toFixed(1)} docs/s (limit ${limit})`);
    assert.ok(rate <= limit * 1.1, `copied ${rate.toFixed(1)} docs/s; limit ${limit}`);
    assert.ok(sawHeldBack, 'the status showed the limit holding the copy back');
  });

  it('refuses a limit that is not a number above 0, in the constructor and when changed', () => {
    const options = {
      source: d.sourceUri,
      target: d.targetUri,
      checkpoint: { name: 'x', store: new MemoryCheckpointStore() }
    };
    assert.throws(
      () => new Replicator({ ...options, rateLimit: { opsPerSecond: 0 } }),
      (error: unknown) =>
        error instanceof InvalidConfigError && error.field === 'rateLimit.opsPerSecond'
    );
    assert.throws(
      () => new Replicator({ ...options, rateLimit: { bytesPerSecnd: 5 } as never }),
      (error: unknown) =>
        error instanceof InvalidConfigError && error.field === 'rateLimit.bytesPerSecnd'
    );
    const replicator = new Replicator({ ...options, rateLimit: { bytesPerSecond: 1e6 } });
    assert.throws(
      () => replicator.setRateLimit({ opsPerSecond: -1 }),
      (error: unknown) =>
        error instanceof InvalidConfigError && error.field === 'rateLimit.opsPerSecond'
    );
    assert.deepEqual(replicator.rateLimit, { bytesPerSecond: 1e6 });
    // Accepted before start(), for the run to come.
    replicator.setRateLimit({ opsPerSecond: 50 });
    assert.deepEqual(replicator.rateLimit, { opsPerSecond: 50 });
  });
});
