import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Double, MaxKey, MinKey } from 'bson';

import { ids, match } from './fixtures.js';

describe('query comparisons', () => {
  const docs = [
    { _id: 1, a: 1 },
    { _id: 2, a: 5 },
    { _id: 3, a: 'x' },
    { _id: 4, a: null },
    { _id: 5 },
    { _id: 6, a: [2, 9] },
    { _id: 7, a: new MinKey() },
    { _id: 8, a: new MaxKey() },
    { _id: 9, a: new Date(0) }
  ];

  it('brackets by type: numbers never compare with strings or dates', () => {
    assert.deepEqual(ids({ a: { $gt: 4 } }, docs), [2, 6]);
    assert.deepEqual(ids({ a: { $lt: 3 } }, docs), [1, 6]);
    assert.deepEqual(ids({ a: { $gte: 'a' } }, docs), [3]);
    assert.deepEqual(ids({ a: { $lte: new Date(10) } }, docs), [9]);
  });

  it('null comparisons include missing only when inclusive', () => {
    assert.deepEqual(ids({ a: { $gte: null } }, docs), [4, 5]);
    assert.deepEqual(ids({ a: { $lte: null } }, docs), [4, 5]);
    assert.deepEqual(ids({ a: { $gt: null } }, docs), []);
    assert.deepEqual(ids({ a: { $lt: null } }, docs), []);
  });

  it('MinKey and MaxKey bounds take every type, missing included', () => {
    assert.deepEqual(ids({ a: { $lt: new MaxKey() } }, docs), [1, 2, 3, 4, 5, 6, 7, 9]);
    assert.deepEqual(ids({ a: { $lte: new MaxKey() } }, docs), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(ids({ a: { $gt: new MinKey() } }, docs), [1, 2, 3, 4, 5, 6, 8, 9]);
    assert.deepEqual(ids({ a: { $eq: new MinKey() } }, docs), [7]);
  });

  it('each operator of a range may match a different array element', () => {
    assert.equal(match({ a: { $gt: 3, $lt: 5 } }, { a: [2, 9] }), true);
    assert.equal(match({ a: { $elemMatch: { $gt: 3, $lt: 5 } } }, { a: [2, 9] }), false);
  });

  it('NaN equals NaN and is neither above nor below numbers', () => {
    const nan = new Double(NaN);
    assert.equal(match({ a: nan }, { a: nan }), true);
    assert.equal(match({ a: { $gte: nan } }, { a: nan }), true);
    assert.equal(match({ a: { $lt: nan } }, { a: nan }), false);
    assert.equal(match({ a: { $gt: 0 } }, { a: nan }), false);
    assert.equal(match({ a: { $lt: 0 } }, { a: nan }), false);
  });

  it('compares arrays and documents as whole values', () => {
    assert.equal(match({ a: { $gt: [1] } }, { a: [1, 2] }), true);
    assert.equal(match({ a: { $gt: {} } }, { a: { b: 1 } }), true);
  });

  it('$ne is the negation of equality over all elements', () => {
    assert.equal(match({ a: { $ne: 1 } }, { a: [1, 2] }), false);
    assert.equal(match({ a: { $ne: 3 } }, { a: [1, 2] }), true);
    assert.equal(match({ a: { $ne: 1 } }, {}), true);
  });

  it('$in matches values, null-as-missing and regexes; $nin negates', () => {
    const list = [
      { _id: 1, a: 1 },
      { _id: 2, a: 'abc' },
      { _id: 3 },
      { _id: 4, a: [7, 2.0] },
      { _id: 5, a: 'zzz' },
      { _id: 6, a: [1, 2] }
    ];
    assert.deepEqual(ids({ a: { $in: [2, /^ab/, null] } }, list), [2, 3, 4, 6]);
    assert.deepEqual(ids({ a: { $nin: [2, /^ab/, null] } }, list), [1, 5]);
    assert.deepEqual(ids({ a: { $in: [[1, 2]] } }, list), [6]);
    assert.deepEqual(ids({ a: { $in: [] } }, list), []);
  });
});
