import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PendingBatch } from '../../../src/batch/pending-batch.js';
import { type CrudOp } from '../../../src/pipeline/pipeline-items.js';
import { ts } from '../oplog/entries.js';

const op = (n: number): CrudOp => ({ ns: 'a.b', id: n }) as unknown as CrudOp;

describe('PendingBatch', () => {
  it('is empty until it covers an entry, and takes nothing then', () => {
    const batch = new PendingBatch();
    assert.equal(batch.isEmpty, true);
    assert.equal(batch.take(), undefined);
    batch.add([], 10, ts(1)); // an empty unit covers nothing
    assert.equal(batch.isEmpty, true);
  });

  it('hands over ops, bytes, skips and the span of optimes, then starts over', () => {
    const batch = new PendingBatch();
    batch.skip(ts(1));
    batch.add([op(1), op(2)], 30, ts(2));
    batch.addOne(op(3), 5);
    batch.cover(ts(3));
    assert.equal(batch.opCount, 3);
    assert.equal(batch.bytes, 35);
    const taken = batch.take()!;
    assert.deepEqual(
      taken.ops.map(o => (o as unknown as { id: number }).id),
      [1, 2, 3]
    );
    assert.equal(taken.bytes, 35);
    assert.equal(taken.skipped, 1);
    assert.ok(taken.firstOptime.equals(ts(1)));
    assert.ok(taken.lastOptime.equals(ts(3)));
    assert.equal(batch.isEmpty, true);
    assert.equal(batch.opCount, 0);
    assert.equal(batch.bytes, 0);
  });

  it('starts its fill clock at the first entry it covers', () => {
    const batch = new PendingBatch();
    const before = performance.now();
    batch.skip(ts(1));
    const started = batch.startedAt;
    assert.ok(started >= before && started <= performance.now());
    batch.skip(ts(2));
    assert.equal(batch.startedAt, started, 'later entries do not restart it');
  });
});
