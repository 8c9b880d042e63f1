import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { compileFilter } from '../../engine/query/matcher.js';
import { d } from './fixtures.js';

function position(filter: Record<string, unknown>, doc: Record<string, unknown>) {
  return compileFilter(d(filter)).matchPosition(d(doc));
}

describe('positional match index', () => {
  it('records the index of the array element that matched', () => {
    assert.deepEqual(position({ a: 3 }, { a: [1, 3, 3] }), { matched: true, arrayIndex: 1 });
    assert.deepEqual(position({ 'a.b': 2 }, { a: [{ b: 1 }, { b: 2 }] }), {
      matched: true,
      arrayIndex: 1
    });
    assert.deepEqual(position({ a: { $gt: 4 } }, { a: [1, 9] }), { matched: true, arrayIndex: 1 });
  });

  it('uses the outermost array along the path', () => {
    const doc = { a: [{ b: [0] }, { b: [5, 6] }] };
    assert.deepEqual(position({ 'a.b': 6 }, doc), { matched: true, arrayIndex: 1 });
  });

  it('has no index for non-array matches or whole-array equality', () => {
    assert.deepEqual(position({ a: 1 }, { a: 1 }), { matched: true });
    assert.deepEqual(position({ a: [1, 2] }, { a: [1, 2] }), { matched: true });
    assert.deepEqual(position({ a: 5 }, { a: [1, 2] }), { matched: false });
  });

  it('$elemMatch records the matching element', () => {
    const doc = {
      a: [
        { b: 1, c: 1 },
        { b: 2, c: 2 }
      ]
    };
    assert.deepEqual(position({ a: { $elemMatch: { b: 2, c: 2 } } }, doc), {
      matched: true,
      arrayIndex: 1
    });
    assert.deepEqual(position({ a: { $elemMatch: { $gte: 3 } } }, { a: [1, 4] }), {
      matched: true,
      arrayIndex: 1
    });
  });

  it('in an $and the last recording clause wins; $or, $nor and negations do not record', () => {
    const doc = { a: [1, 2], b: [5, 6] };
    assert.deepEqual(position({ a: 2, b: 5 }, doc), { matched: true, arrayIndex: 0 });
    assert.deepEqual(position({ $or: [{ a: 2 }] }, doc), { matched: true });
    assert.deepEqual(position({ a: { $ne: 9 } }, doc), { matched: true });
    assert.deepEqual(position({ a: 2, b: { $exists: true } }, doc), {
      matched: true,
      arrayIndex: 0
    });
  });
});
