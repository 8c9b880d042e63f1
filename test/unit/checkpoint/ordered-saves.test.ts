import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { OrderedSaves } from '../../../src/checkpoint/ordered-saves.js';

/** A write that finishes when `release()` is called, recording its start and end. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>(resolve => (release = resolve));
  return {
    release: () => release(),
    write: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
    }
  };
}

describe('OrderedSaves', () => {
  it('runs the saves of one name one after the other, in call order', async () => {
    const saves = new OrderedSaves();
    const log: string[] = [];
    const first = gate(log, '1');
    const second = gate(log, '2');
    const a = saves.run('x', first.write);
    const b = saves.run('x', second.write);
    await Promise.resolve();
    assert.deepEqual(log, ['start 1'], 'the second waits for the first');
    second.release();
    first.release();
    await Promise.all([a, b]);
    assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('does not hold one name behind another', async () => {
    const saves = new OrderedSaves();
    const log: string[] = [];
    const slow = gate(log, 'x');
    const pending = saves.run('x', slow.write);
    await saves.run('y', async () => void log.push('y'));
    assert.deepEqual(log, ['start x', 'y']);
    slow.release();
    await pending;
  });

  it('a failed save fails its caller only; the next one still runs', async () => {
    const saves = new OrderedSaves();
    const failing = saves.run('x', () => Promise.reject(new Error('disk full')));
    const next = saves.run('x', async () => 'ok' as never);
    await assert.rejects(failing, /disk full/);
    await next;
  });
});
