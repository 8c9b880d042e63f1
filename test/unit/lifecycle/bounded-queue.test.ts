import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BoundedQueue } from '../../../src/lifecycle/bounded-queue.js';
import { withTimeout } from '../../support/timeout-signal.js';

/** Whether `promise` settled once pending callbacks ran: a turn of the event loop, no timer. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true)
  );
  await new Promise(resolve => setImmediate(resolve));
  return settled;
}

describe('BoundedQueue', () => {
  it('push waits while the queue is full by items and resumes after a shift', async () => {
    const queue = new BoundedQueue<number>(2, Infinity);
    assert.equal(await queue.push(1, 1), true);
    assert.equal(await queue.push(2, 1), true);
    const third = queue.push(3, 1);
    assert.equal(await isSettled(third), false);
    assert.equal(await queue.shift(), 1);
    assert.equal(await withTimeout(third, 1000, 'third push'), true);
    assert.deepEqual([queue.size, queue.bytes], [2, 2]);
  });

  it('tryPush queues at once while there is room, never past a waiting push or a close', async () => {
    const queue = new BoundedQueue<string>(2, 10);
    const waiting = queue.shift();
    assert.equal(queue.tryPush('a', 1), true);
    assert.equal(await waiting, 'a', 'handed to the waiting consumer');
    assert.equal(queue.tryPush('b', 6), true);
    assert.equal(queue.tryPush('c', 6), false, 'over the byte bound: nothing queued');
    const blocked = queue.push('c', 6);
    // 'd' would fit, but 'c' waits before it: order is kept.
    assert.equal(queue.tryPush('d', 1), false);
    assert.equal(await queue.shift(), 'b');
    assert.equal(await withTimeout(blocked, 1000, 'push of c'), true);
    assert.equal(queue.tryPush('d', 1), true);
    assert.deepEqual([await queue.shift(), await queue.shift()], ['c', 'd']);
    queue.close();
    assert.equal(queue.tryPush('e', 1), false, 'closed');
    assert.equal(queue.size, 0);
  });

  it('holds the byte bound, but lets an oversized item into an empty queue', async () => {
    const queue = new BoundedQueue<string>(100, 10);
    assert.equal(await queue.push('a', 6), true);
    const blocked = queue.push('b', 6);
    assert.equal(await isSettled(blocked), false);
    assert.equal(queue.bytes, 6);
    assert.equal(await queue.shift(), 'a');
    assert.equal(await withTimeout(blocked, 1000, 'b'), true);
    assert.equal(await queue.shift(), 'b');
    // 25 bytes > maxBytes 10: admitted only because the queue is empty.
    assert.equal(await queue.push('huge', 25), true);
    assert.equal(queue.bytes, 25);
    const next = queue.push('c', 1);
    assert.equal(await isSettled(next), false);
    assert.equal(await queue.shift(), 'huge');
    assert.equal(await withTimeout(next, 1000, 'c'), true);
  });

  it('an aborted push rejects with the reason and leaves the queue unchanged', async () => {
    const queue = new BoundedQueue<number>(1, Infinity);
    await queue.push(1, 1);
    const controller = new AbortController();
    const waiting = queue.push(2, 1, controller.signal);
    const reason = new Error('stop now');
    controller.abort(reason);
    await assert.rejects(waiting, reason);
    assert.equal(queue.waitingProducers, 0);
    assert.equal(await queue.shift(), 1);
    assert.equal(queue.size, 0);
    await assert.rejects(queue.push(3, 1, controller.signal), reason);
  });

  it('an aborted shift rejects with the reason and loses no item', async () => {
    const queue = new BoundedQueue<number>(4, Infinity);
    const controller = new AbortController();
    const waiting = queue.shift(controller.signal);
    controller.abort(new Error('bye'));
    await assert.rejects(waiting, /bye/);
    await queue.push(7, 1);
    assert.equal(await queue.shift(), 7);
  });

  it('close: push resolves false, waiting producers too; consumers drain, then get undefined', async () => {
    const queue = new BoundedQueue<number>(1, Infinity);
    await queue.push(1, 1);
    const waitingProducer = queue.push(2, 1);
    queue.close();
    assert.equal(await waitingProducer, false);
    assert.equal(await queue.push(3, 1), false);
    assert.equal(await queue.shift(), 1);
    assert.equal(await queue.shift(), undefined);

    const empty = new BoundedQueue<number>(1, Infinity);
    const waitingConsumer = empty.shift();
    empty.close();
    assert.equal(await withTimeout(waitingConsumer, 1000, 'consumer'), undefined);
  });

  it('serves several producers and consumers in FIFO order; a small item cannot overtake', async () => {
    const queue = new BoundedQueue<string>(10, 10);
    await queue.push('a', 8);
    const big = queue.push('big', 5); // waits: 8 + 5 > 10
    const small = queue.push('small', 1); // would fit, but must not overtake 'big'
    assert.equal(await isSettled(small), false);
    assert.equal(queue.waitingProducers, 2);
    const consumers = [queue.shift(), queue.shift(), queue.shift()];
    assert.deepEqual(await withTimeout(Promise.all(consumers), 1000, 'consumers'), [
      'a',
      'big',
      'small'
    ]);
    assert.deepEqual(await Promise.all([big, small]), [true, true]);

    const c1 = queue.shift();
    const c2 = queue.shift();
    await queue.push('x', 1);
    await queue.push('y', 1);
    assert.deepEqual(await Promise.all([c1, c2]), ['x', 'y']);
  });

  it('iterates until closed, and tryShift never waits', async () => {
    const queue = new BoundedQueue<number>(3, Infinity);
    assert.equal(queue.tryShift(), undefined);
    for (const n of [1, 2, 3]) await queue.push(n, 1);
    assert.equal(queue.tryShift(), 1);
    queue.close();
    const seen: number[] = [];
    for await (const n of queue) seen.push(n);
    assert.deepEqual(seen, [2, 3]);
  });

  it('rejects invalid bounds', () => {
    assert.throws(() => new BoundedQueue(0, 1), RangeError);
    assert.throws(() => new BoundedQueue(1, 0), RangeError);
  });
});
