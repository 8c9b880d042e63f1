/**
 * WriteThrottle on a clock the test advances by hand: rates, order, limit changes, pause, abort
 * and the split of writes, with no real waiting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidConfigError } from '../../../src/errors.js';
import { type ThrottleClock, WriteThrottle } from '../../../src/throttle/write-throttle.js';

/** A clock whose time moves only when the test says so; due timers then fire in order. */
class ManualClock implements ThrottleClock {
  time = 0;
  #timers: { at: number; callback: () => void }[] = [];

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, ms: number): () => void {
    const timer = { at: this.time + ms, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter(t => t !== timer);
    };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      const next = this.#timers.sort((a, b) => a.at - b.at)[0];
      if (next === undefined || next.at > end) break;
      this.#timers.shift();
      this.time = next.at;
      next.callback();
      await settle();
    }
    this.time = end;
    await settle();
  }
}

/** Lets resolved promises run their callbacks. */
const settle = () => new Promise(resolve => setImmediate(resolve));

/** An acquire whose settlement the test can read synchronously. */
function track(promise: Promise<void>): { readonly done: boolean; readonly error: unknown } {
  const state = { done: false, error: undefined as unknown };
  promise.then(
    () => (state.done = true),
    (error: unknown) => (state.error = error)
  );
  return state;
}

describe('WriteThrottle', () => {
  it('lets everything through at once without a limit', async () => {
    const throttle = new WriteThrottle();
    const grant = track(throttle.acquire(1_000_000, 1e12));
    await settle();
    assert.equal(grant.done, true);
    assert.deepEqual(
      throttle.split([1, 2, 3], () => 1e9),
      [[1, 2, 3]]
    );
  });

  it('holds a steady demand to the ops limit', async () => {
    const clock = new ManualClock();
    const throttle = new WriteThrottle({ opsPerSecond: 200 }, clock);
    let granted = 0;
    // Three writers asking for 5 ops again and again, for 5 simulated seconds.
    const writer = async () => {
      while (clock.time < 5_000) {
        await throttle.acquire(5, 0);
        granted += 5;
      }
    };
    const writers = [writer(), writer(), writer()];
    while (clock.time < 5_000) await clock.advance(10);
    throttle.setLimit({});
    await Promise.all(writers);
    // 5 s at 200 per second, plus the first full bucket (20), plus what the last writers took
    // once the limit was lifted.
    assert.ok(granted >= 1_000 && granted <= 1_000 + 20 + 15, `granted ${granted}`);
  });

  it('holds bytes to the bytes limit, and a write above a tenth of a second passes alone', async () => {
    const clock = new ManualClock();
    const throttle = new WriteThrottle({ bytesPerSecond: 1_000 }, clock);
    const big = track(throttle.acquire(1, 500));
    await settle();
    assert.equal(big.done, true, 'the first write passes on a full bucket, whatever its size');
    const next = track(throttle.acquire(1, 10));
    // The debt is 400 bytes: 410 ms until 10 more are there.
    await clock.advance(409);
    assert.equal(next.done, false, 'the next one waits out the debt');
    await clock.advance(1);
    assert.equal(next.done, true);
  });

  it('serves waiting writers in arrival order', async () => {
    const clock = new ManualClock();
    const throttle = new WriteThrottle({ opsPerSecond: 100 }, clock);
    await throttle.acquire(10, 0); // empties the bucket
    const order: string[] = [];
    void throttle.acquire(10, 0).then(() => order.push('large'));
    void throttle.acquire(1, 0).then(() => order.push('small'));
    await clock.advance(99);
    assert.deepEqual(order, []);
    await clock.advance(1);
    assert.deepEqual(order, ['large']);
    await clock.advance(10);
    assert.deepEqual(order, ['large', 'small']);
  });

  it('re-times waiting writers when the limit changes', async () => {
    const clock = new ManualClock();
    const throttle = new WriteThrottle({ opsPerSecond: 10 }, clock);
    await throttle.acquire(1, 0);
    const waiting = track(throttle.acquire(1, 0));
    await clock.advance(10);
    assert.equal(waiting.done, false, 'at 10 per second it would wait 100 ms');
    throttle.setLimit({ opsPerSecond: 1_000 });
    await clock.advance(1);
    assert.equal(waiting.done, true);
    throttle.setLimit({});
    assert.deepEqual(throttle.limit, {});
    const free = track(throttle.acquire(1_000, 0));
    await settle();
    assert.equal(free.done, true);
  });

  it('starts no write while paused; pause() resolves once the writes under way have ended', async () => {
    const throttle = new WriteThrottle();
    let finishWrite!: () => void;
    const writing = throttle.write(
      1,
      0,
      undefined,
      () => new Promise<void>(r => (finishWrite = r))
    );
    await settle();
    const paused = track(throttle.pause());
    assert.equal(throttle.paused, true);
    const blocked = track(throttle.acquire(1, 0));
    await settle();
    assert.equal(paused.done, false, 'a write is still under way');
    finishWrite();
    await writing;
    await settle();
    assert.equal(paused.done, true);
    assert.equal(blocked.done, false, 'nothing starts while paused');
    throttle.resume();
    await settle();
    assert.equal(blocked.done, true);
    assert.equal(throttle.paused, false);
  });

  it('keeps the limit across a pause and hands waiting writers over in order on resume', async () => {
    const clock = new ManualClock();
    const throttle = new WriteThrottle({ opsPerSecond: 100 }, clock);
    await throttle.pause();
    const order: number[] = [];
    for (const n of [1, 2, 3]) void throttle.acquire(5, 0).then(() => order.push(n));
    await clock.advance(1_000);
    assert.deepEqual(order, []);
    assert.equal(throttle.stats.heldBackMs, 0, 'a pause is not the limit holding back');
    throttle.resume();
    await settle();
    assert.deepEqual(order, [1, 2], 'a full bucket: 10 ops at once');
    await clock.advance(50);
    assert.deepEqual(order, [1, 2, 3]);
  });

  it('drops a waiter whose signal aborts, and serves the next one', async () => {
    const clock = new ManualClock();
    const throttle = new WriteThrottle({ opsPerSecond: 100 }, clock);
    await throttle.acquire(10, 0);
    const controller = new AbortController();
    const aborted = track(throttle.acquire(10, 0, controller.signal));
    const next = track(throttle.acquire(1, 0));
    const reason = new Error('stopped');
    controller.abort(reason);
    await settle();
    assert.equal(aborted.error, reason);
    await clock.advance(10);
    assert.equal(next.done, true, 'the aborted request took no tokens');
    await assert.rejects(throttle.acquire(1, 0, controller.signal), reason);
  });

  it('ends a wait while paused when the signal aborts', async () => {
    const throttle = new WriteThrottle();
    await throttle.pause();
    const controller = new AbortController();
    const waiting = track(throttle.acquire(1, 0, controller.signal));
    controller.abort(new Error('stop while paused'));
    await settle();
    assert.match(String(waiting.error), /stop while paused/);
  });

  it('splits writes into pieces of one grant: a tenth of a second of ops and of bytes', () => {
    const throttle = new WriteThrottle({ opsPerSecond: 30 });
    const items = Array.from({ length: 8 }, (_, i) => i);
    assert.deepEqual(
      throttle.split(items, () => 1),
      [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7]
      ]
    );
    throttle.setLimit({ bytesPerSecond: 1_000 });
    assert.deepEqual(
      throttle.split(items, () => 40),
      [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7]
      ]
    );
    // An item above the bytes of one grant travels alone.
    assert.deepEqual(
      throttle.split([1, 2, 3], n => (n === 2 ? 500 : 10)),
      [[1], [2], [3]]
    );
  });

  it('reports when the limit holds writes back, and for how long', async () => {
    const clock = new ManualClock();
    const throttle = new WriteThrottle({ opsPerSecond: 100 }, clock);
    assert.deepEqual(throttle.stats, { limiting: false, heldBackMs: 0 });
    await throttle.acquire(10, 0);
    const waiting = throttle.acquire(10, 0);
    await clock.advance(40);
    assert.deepEqual(throttle.stats, { limiting: true, heldBackMs: 40 });
    await clock.advance(60);
    await waiting;
    assert.deepEqual(throttle.stats, { limiting: true, heldBackMs: 100 });
    await clock.advance(1_000);
    assert.deepEqual(throttle.stats, { limiting: false, heldBackMs: 100 });
  });

  it('refuses a limit that is not a number above 0, by its path', () => {
    const refused = (limit: unknown, field: string) =>
      assert.throws(
        () => new WriteThrottle(limit as never),
        (error: unknown) => error instanceof InvalidConfigError && error.field === field
      );
    refused({ opsPerSecond: 0 }, 'rateLimit.opsPerSecond');
    refused({ opsPerSecond: -5 }, 'rateLimit.opsPerSecond');
    refused({ bytesPerSecond: '10' }, 'rateLimit.bytesPerSecond');
    refused({ opsPerSecond: Number.POSITIVE_INFINITY }, 'rateLimit.opsPerSecond');
    refused({ opsPerSeconds: 10 }, 'rateLimit.opsPerSeconds');
    const throttle = new WriteThrottle({ opsPerSecond: 10 });
    assert.throws(() => throttle.setLimit({ opsPerSecond: 0 }), InvalidConfigError);
    assert.deepEqual(throttle.limit, { opsPerSecond: 10 }, 'a refused limit changes nothing');
  });
});
