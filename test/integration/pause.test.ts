/**
 * `replicator.pause()` / `resume()`: while paused nothing is written to the target (what the
 * source writes meanwhile is fetched until the bounded queues are full, and applied only after
 * `resume()`), the state is `paused` in events and the status, checkpoints name only what was
 * applied, and `stop()` works while paused. "Nothing arrives" is checked after the fetcher has
 * provably read the writes (its `lag` samples say so), never after a sleep.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Timestamp } from 'mongodb';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { InvalidStateError } from '../../src/errors.js';
import { type LagEvent, type StageState } from '../../src/events.js';
import { ReplicatorMonitor } from '../../src/observability/replicator-monitor.js';
import { Replicator } from '../../src/replicator.js';
import { type ReplicatorOptions } from '../../src/replicator-options.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { waitAppliedMarker } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';

type Item = { _id: number };

describe('Replicator pause() and resume()', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  function replicatorFor(db: string, extra: Partial<ReplicatorOptions> = {}) {
    const store = new MemoryCheckpointStore();
    const make = () =>
      new Replicator({
        source: d.source,
        target: d.target,
        filter: { include: [`${db}.*`] },
        checkpoint: { name: db, store, intervalMs: 0 },
        fetcher: { lagIntervalMs: 20 },
        ...extra
      });
    return { make, store };
  }

  const caughtUp = (replicator: Replicator, db: string) =>
    withTimeout(waitAppliedMarker(replicator, d.source, db, 'marker'), 30_000, 'the marker');

  /** Inserts `ids` into `db.items` and returns the optime of the last insert. */
  async function insert(db: string, ids: number[]): Promise<Timestamp> {
    const session = d.source.startSession();
    try {
      const items = d.source.db(db).collection<Item>('items');
      for (let i = 0; i < ids.length; i += 100) {
        await items.insertMany(
          ids.slice(i, i + 100).map(_id => ({ _id })),
          { session }
        );
      }
      return session.operationTime!;
    } finally {
      await session.endSession();
    }
  }

  const count = (db: string) => d.target.db(db).collection('items').countDocuments();

  /** Resolves with the `n`-th lag sample that passes `filter`. */
  async function lagSamples(
    replicator: Replicator,
    n: number,
    filter: (event: LagEvent) => boolean
  ): Promise<LagEvent> {
    let seen = 0;
    const [event] = await withTimeout(
      replicator.waitFor('lag', { filter: e => filter(e) && ++seen >= n }),
      30_000,
      `${n} lag samples`
    );
    return event;
  }

  it('writes nothing while paused; what was written meanwhile arrives after resume()', async () => {
    const db = uniqueDbName('pause');
    const replicator = replicatorFor(db).make();
    const monitor = new ReplicatorMonitor(replicator);
    const states: StageState[] = [];
    replicator.on('state', event => states.push(event.to));
    await replicator.start();
    try {
      await insert(db, [0]);
      await caughtUp(replicator, db);
      await replicator.pause();
      assert.equal(replicator.state, 'paused');
      const appliedAtPause = replicator.appliedOptime!;
      const last = await insert(db, [1, 2, 3, 4, 5]);
      // Writes meanwhile still fetched, but not applied: a fence waits for resume().
      const fence = replicator.fence();
      let fenced = false;
      void fence.then(() => (fenced = true));
      await lagSamples(
        replicator,
        1,
        e =>
          e.heldBack === 'paused' &&
          e.fetchedOptime !== undefined &&
          !e.fetchedOptime.lessThan(last)
      );
      // A few more samples (each one a round trip to the source) with nothing applied.
      await lagSamples(replicator, 5, e => e.heldBack === 'paused');
      assert.equal(await count(db), 1);
      assert.ok(replicator.appliedOptime!.equals(appliedAtPause), 'nothing was applied');
      assert.equal(fenced, false);
      const status = monitor.status();
      assert.equal(status.state, 'paused');
      assert.equal(status.heldBack, 'paused');
      assert.equal(status.caughtUp, false);

      replicator.resume();
      assert.equal(replicator.state, 'running');
      await withTimeout(fence, 30_000, 'the fence after resume()');
      assert.equal(await count(db), 6);
      assert.equal(monitor.status().heldBack, null);
      assert.deepEqual(states, ['starting', 'running', 'paused', 'running']);
    } finally {
      await replicator.stop();
      monitor.close();
    }
  });

  it('stops fetching by backpressure once the bounded queues are full', async () => {
    const db = uniqueDbName('pause_full');
    const replicator = replicatorFor(db, {
      fetcher: { lagIntervalMs: 20, batchSize: 5, bufferMaxEntries: 5 },
      batcher: { maxOps: 5, outputMaxBatches: 1 },
      applier: { maxBatchesInFlight: 1 }
    }).make();
    await replicator.start();
    try {
      await replicator.pause();
      const last = await insert(
        db,
        Array.from({ length: 300 }, (_, i) => i)
      );
      // The fetched position stops short of the last write and stays there.
      const stalled = await lagSamples(
        replicator,
        1,
        e => e.fetchedOptime !== undefined && e.sourceOptime.greaterThan(e.fetchedOptime)
      );
      let unchanged = 0;
      let fetched = stalled.fetchedOptime!;
      await lagSamples(replicator, 1, e => {
        if (e.fetchedOptime!.equals(fetched)) return ++unchanged >= 10;
        fetched = e.fetchedOptime!;
        unchanged = 0;
        return false;
      });
      assert.ok(fetched.lessThan(last), 'the fetcher waits on full queues');
      assert.equal(await count(db), 0);
      replicator.resume();
      await caughtUp(replicator, db);
      assert.equal(await count(db), 300);
    } finally {
      await replicator.stop();
    }
  });

  it('stops while paused: the checkpoint names only what was applied, and a restart applies the rest', async () => {
    const db = uniqueDbName('pause_stop');
    const { make, store } = replicatorFor(db);
    const first = make();
    await first.start();
    await insert(db, [0]);
    await caughtUp(first, db);
    await first.pause();
    const applied = first.appliedOptime!;
    const last = await insert(db, [1, 2, 3]);
    await lagSamples(first, 1, e => !e.fetchedOptime!.lessThan(last));
    await withTimeout(first.stop(), 30_000, 'stop() while paused');
    assert.equal(first.state, 'stopped');
    await first.done;
    assert.equal(await count(db), 1);
    const saved = await store.load(db);
    assert.ok(saved?.lastApplied?.equals(applied), 'the checkpoint is where the pause left it');

    const second = make();
    await second.start();
    try {
      await caughtUp(second, db);
      assert.equal(await count(db), 4);
    } finally {
      await second.stop();
    }
  });

  it('refuses pause() and resume() outside running or paused; both repeat harmlessly', async () => {
    const db = uniqueDbName('pause_state');
    const replicator = replicatorFor(db).make();
    await assert.rejects(replicator.pause(), InvalidStateError);
    assert.throws(() => replicator.resume(), InvalidStateError);
    await replicator.start();
    replicator.resume(); // running: nothing to do
    await replicator.pause();
    await replicator.pause();
    assert.equal(replicator.state, 'paused');
    replicator.resume();
    replicator.resume();
    assert.equal(replicator.state, 'running');
    await replicator.stop();
    await assert.rejects(replicator.pause(), InvalidStateError);
  });

  it('pauses a full copy: it resumes where it was and finishes', async () => {
    const db = uniqueDbName('pause_copy');
    await d.source
      .db(db)
      .collection<Item>('items')
      .insertMany(Array.from({ length: 500 }, (_, _id) => ({ _id })));
    const replicator = replicatorFor(db, {
      mode: 'full',
      full: { executor: { chunkDocuments: 50, writers: 1 } }
    }).make();
    let copiedAtPause = -1;
    const paused = new Promise<void>(resolve => {
      replicator.once('progress', () => {
        void replicator.pause().then(async () => {
          copiedAtPause = await count(db);
          resolve();
        });
      });
    });
    const progressWhilePaused: number[] = [];
    replicator.on('progress', event => {
      if (replicator.state === 'paused') progressWhilePaused.push(event.documents);
    });
    await replicator.start();
    await withTimeout(paused, 30_000, 'the pause');
    assert.ok(copiedAtPause < 500, `copied ${copiedAtPause} before the pause took hold`);
    assert.equal(replicator.state, 'paused');
    replicator.resume();
    await withTimeout(replicator.done, 30_000, 'the copy');
    assert.equal(await count(db), 500);
    // At most the writes under way when pause() was called reported progress while paused.
    assert.ok(progressWhilePaused.length <= 1, `progress while paused: ${progressWhilePaused}`);
  });
});
