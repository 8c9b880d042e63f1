import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { forEachConcurrently, mapConcurrently } from '../../../src/lifecycle/concurrently.js';

/** A step whose calls the test finishes by hand, recording how many run at once. */
function manualStep() {
  const pending: (() => void)[] = [];
  let running = 0;
  let most = 0;
  return {
    get most() {
      return most;
    },
    pending,
    step: async (item: number) => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>(resolve => pending.push(resolve));
      running--;
      return item * 2;
    }
  };
}

async function drain(pending: (() => void)[], done: Promise<unknown>): Promise<void> {
  let settled = false;
  void done.finally(() => (settled = true)).catch(() => undefined);
  while (!settled) {
    pending.shift()?.();
    await new Promise(resolve => setImmediate(resolve));
  }
}

describe('mapConcurrently', () => {
  it('keeps at most `limit` calls in flight and returns results in item order', async () => {
    const manual = manualStep();
    const items = Array.from({ length: 20 }, (_, i) => i);
    const done = mapConcurrently(items, 3, manual.step);
    await drain(manual.pending, done);
    assert.deepEqual(
      await done,
      items.map(i => i * 2)
    );
    assert.equal(manual.most, 3);
  });

  it('starts nothing after a failure and throws it once the calls under way settle', async () => {
    const started: number[] = [];
    await assert.rejects(
      forEachConcurrently([0, 1, 2, 3, 4, 5, 6, 7], 2, async item => {
        started.push(item);
        await new Promise(resolve => setImmediate(resolve));
        if (item === 1) throw new Error('item 1 failed');
      }),
      /item 1 failed/
    );
    assert.ok(started.length <= 3, `started ${started.join(', ')}`);
  });

  it('handles no items', async () => {
    assert.deepEqual(await mapConcurrently([], 4, async () => 1), []);
  });
});
