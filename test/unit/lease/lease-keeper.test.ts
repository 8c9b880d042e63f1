import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MemoryCheckpointStore } from '../../../src/checkpoint/memory-checkpoint-store.js';
import { LeaseHeldError, LeaseLostError } from '../../../src/errors.js';
import { type LeaseRecord } from '../../../src/lease/lease.js';
import { LeaseKeeper, type LeaseKeeperOptions } from '../../../src/lease/lease-keeper.js';
import { silentLogger } from '../../../src/logger.js';
import { timeoutSignal, withTimeout } from '../../support/timeout-signal.js';

/** A store whose clock can jump ahead, as if time passed for it. */
function jumpingStore() {
  let offset = 0;
  const store = new MemoryCheckpointStore({ clock: () => Date.now() + offset });
  return { store, jump: (ms: number) => (offset += ms) };
}

function options(
  store: MemoryCheckpointStore,
  n: number,
  extra: Partial<LeaseKeeperOptions> = {}
): LeaseKeeperOptions {
  return {
    store,
    name: 'job',
    ttlMs: 600,
    owner: { id: `owner-${n}`, host: `host-${n}`, pid: 100 + n },
    standby: false,
    logger: silentLogger,
    signal: new AbortController().signal,
    onLost: () => {},
    ...extra
  };
}

describe('LeaseKeeper', () => {
  it('takes a free lease, and a second replicator fails naming the holder', async () => {
    const { store } = jumpingStore();
    const first = await LeaseKeeper.acquire(options(store, 1));
    first.assertHeld();
    assert.deepEqual(first.token, { ownerId: 'owner-1', token: 1 });
    await assert.rejects(LeaseKeeper.acquire(options(store, 2)), (error: LeaseHeldError) => {
      assert.ok(error instanceof LeaseHeldError);
      assert.equal(error.code, 'MR_LEASE_HELD');
      assert.equal(error.holder.host, 'host-1');
      assert.equal(error.holder.pid, 101);
      assert.match(error.message, /process 101 on host-1/);
      return true;
    });
    await first.release();
  });

  it('keeps the lease by renewing it past its ttl', async () => {
    const { store } = jumpingStore();
    const keeper = await LeaseKeeper.acquire(options(store, 1, { ttlMs: 300 }));
    const firstExpiry = keeper.record.expiresAt.getTime();
    await withTimeout(
      (async () => {
        while (keeper.record.expiresAt.getTime() < firstExpiry + 300) {
          await new Promise(resolve => setImmediate(resolve));
        }
      })(),
      5000,
      'renewals'
    );
    keeper.assertHeld();
    await keeper.release();
  });

  it('in standby, waits for the holder and takes over once it releases', async () => {
    const { store } = jumpingStore();
    const first = await LeaseKeeper.acquire(options(store, 1, { ttlMs: 60_000 }));
    let standingBy: LeaseRecord | undefined;
    const second = LeaseKeeper.acquire(
      options(store, 2, { standby: true, ttlMs: 600, onStandby: holder => (standingBy = holder) })
    );
    await withTimeout(
      (async () => {
        while (standingBy === undefined) await new Promise(resolve => setImmediate(resolve));
      })(),
      5000,
      'the standby event'
    );
    assert.equal(standingBy?.owner.id, 'owner-1');
    await first.release();
    const taken = await withTimeout(second, 5000, 'the takeover');
    assert.deepEqual(taken.token, { ownerId: 'owner-2', token: 2 });
    await taken.release();
  });

  it('in standby, takes over a lease whose holder stopped renewing (a crash)', async () => {
    const { store } = jumpingStore();
    const first = await LeaseKeeper.acquire(options(store, 1, { ttlMs: 400 }));
    first.abandon();
    const second = await withTimeout(
      LeaseKeeper.acquire(options(store, 2, { standby: true })),
      5000,
      'the takeover after expiry'
    );
    assert.equal(second.token.token, 2);
    await second.release();
  });

  it('loses a lease taken over, says who took it, and refuses writes from then on', async () => {
    const { store, jump } = jumpingStore();
    let lost: LeaseLostError | undefined;
    const first = await LeaseKeeper.acquire(options(store, 1, { onLost: e => (lost = e) }));
    jump(60_000); // the store sees the lease expired: the first replicator was cut off
    const second = await LeaseKeeper.acquire(options(store, 2, { ttlMs: 60_000 }));
    await withTimeout(
      (async () => {
        while (lost === undefined) await new Promise(resolve => setImmediate(resolve));
      })(),
      5000,
      'the loss to be noticed'
    );
    assert.equal(lost?.code, 'MR_LEASE_LOST');
    assert.equal(lost?.holder?.host, 'host-2');
    assert.throws(() => first.assertHeld(), LeaseLostError);
    await second.release();
  });

  it('refuses a write once its deadline passed even before any timer ran (a paused process)', async () => {
    const { store } = jumpingStore();
    let skew = 0;
    const losses: LeaseLostError[] = [];
    const keeper = await LeaseKeeper.acquire(
      options(store, 1, {
        ttlMs: 60_000,
        clock: () => performance.now() + skew,
        onLost: e => losses.push(e)
      })
    );
    keeper.assertHeld();
    skew = 60_000; // a minute went by while the process was stopped
    assert.throws(() => keeper.assertHeld(), /not renewed in time/);
    assert.throws(() => keeper.assertHeld(), LeaseLostError);
    assert.equal(losses.length, 1, 'reported once');
    await keeper.release();
    assert.equal(
      (await store.readLease('job'))?.releasedAt,
      undefined,
      'a lost lease is not released'
    );
  });

  it('stops waiting in standby when aborted', async () => {
    const { store } = jumpingStore();
    const first = await LeaseKeeper.acquire(options(store, 1, { ttlMs: 60_000 }));
    const signal = timeoutSignal(100, 'nothing: the standby wait is cut short');
    await assert.rejects(
      LeaseKeeper.acquire(options(store, 2, { standby: true, signal })),
      /Timed out after 100 ms/
    );
    await first.release();
  });
});
