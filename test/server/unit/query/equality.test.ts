import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Decimal128, Double, Long } from 'bson';

import { compileFilter } from '../../engine/query/matcher.js';
import { d, ids, match } from './fixtures.js';

describe('query equality', () => {
  it('matches scalars, and arrays by whole value or by any element', () => {
    assert.equal(match({ a: 1 }, { a: 1 }), true);
    assert.equal(match({ a: 1 }, { a: 2 }), false);
    assert.equal(match({ a: 1 }, { a: [3, 1] }), true);
    assert.equal(match({ a: [1, 2] }, { a: [1, 2] }), true);
    assert.equal(match({ a: [1, 2] }, { a: [2, 1] }), false);
    assert.equal(match({ a: [1, 2] }, { a: [[1, 2], 3] }), true);
    assert.equal(match({ a: 1 }, { a: [[1]] }), false);
    assert.equal(match({ a: { $eq: 1 } }, { a: [0, 1] }), true);
  });

  it('compares numbers across int, long, double and decimal', () => {
    const filter = compileFilter(new Map([['a', new Long(1)]]));
    assert.equal(filter.matches(d({ a: 1 })), true);
    assert.equal(filter.matches(d({ a: new Double(1) })), true);
    assert.equal(filter.matches(d({ a: Decimal128.fromString('1.0') })), true);
    assert.equal(filter.matches(d({ a: '1' })), false);
  });

  it('compares embedded documents field-order sensitively', () => {
    assert.equal(match({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 2 } }), true);
    assert.equal(match({ a: { b: 1, c: 2 } }, { a: { c: 2, b: 1 } }), false);
    assert.equal(match({ a: { b: 1 } }, { a: { b: 1, c: 2 } }), false);
  });

  it('null matches null, missing, and arrays holding null', () => {
    const docs = [
      { _id: 1, a: null },
      { _id: 2 },
      { _id: 3, a: [1, null] },
      { _id: 4, a: 0 },
      { _id: 5, a: [] }
    ];
    assert.deepEqual(ids({ a: null }, docs), [1, 2, 3]);
    assert.deepEqual(ids({ a: { $ne: null } }, docs), [4, 5]);
  });

  it('null on a dotted path follows mongod (jstests/core/null2.js)', () => {
    const docs = [
      { _id: 1, a: [{ b: 5 }] },
      { _id: 2, a: [{}] },
      { _id: 3, a: [] },
      { _id: 4, a: [{}, { b: 5 }] },
      { _id: 5, a: [5, { b: 5 }] },
      { _id: 6, a: 5 },
      { _id: 7 }
    ];
    assert.deepEqual(ids({ 'a.b': null }, docs), [2, 4, 6, 7]);
    assert.deepEqual(ids({ 'a.b': { $in: [null] } }, docs), [2, 4, 6, 7]);
  });

  it('dotted paths walk embedded documents and arrays of documents', () => {
    assert.equal(match({ 'a.b': 1 }, { a: { b: 1 } }), true);
    assert.equal(match({ 'a.b': 1 }, { a: [{ b: 2 }, { b: 1 }] }), true);
    assert.equal(match({ 'a.b.c': 1 }, { a: [{ b: [{ c: 1 }] }] }), true);
    assert.equal(match({ 'a.b': 1 }, { a: [{ b: [0, 1] }] }), true);
    // Arrays directly inside arrays are not searched for field names.
    assert.equal(match({ 'a.b': 1 }, { a: [[{ b: 1 }]] }), false);
  });

  it('numeric components index arrays and also name fields of embedded documents', () => {
    assert.equal(match({ 'a.0': 5 }, { a: [5, 6] }), true);
    assert.equal(match({ 'a.1': 5 }, { a: [5, 6] }), false);
    assert.equal(match({ 'a.0.b': 1 }, { a: [{ b: 1 }] }), true);
    assert.equal(match({ 'a.0.b': 1 }, { a: [{ b: 2 }, { b: 1 }] }), false);
    assert.equal(match({ 'a.0': 1 }, { a: { '0': 1 } }), true);
    assert.equal(match({ 'a.0': 1 }, { a: [{ '0': 1 }] }), true);
    assert.equal(match({ 'a.0.1': 6 }, { a: [[5, 6]] }), true);
    assert.equal(match({ 'a.0.b': 1 }, { a: [[{ b: 1 }]] }), true);
  });

  it('a regex value matches strings, and a stored regex only when identical', () => {
    assert.equal(match({ a: /^ab/ }, { a: 'abc' }), true);
    assert.equal(match({ a: /^ab/ }, { a: ['x', 'abc'] }), true);
    assert.equal(match({ a: /^ab/ }, { a: 1 }), false);
    assert.equal(match({ a: /^ab/ }, { a: /^ab/ }), true);
    assert.equal(match({ a: /^ab/i }, { a: /^ab/ }), false);
    // $eq with a regex is equality with the regex value, not a pattern match.
    assert.equal(match({ a: { $eq: /^ab/ } }, { a: 'abc' }), false);
    assert.equal(match({ a: { $eq: /^ab/ } }, { a: /^ab/ }), true);
  });

  it('an object whose first key is not an operator is a literal, and DBRefs are literals', () => {
    assert.equal(match({ a: { b: 1, $c: 2 } }, { a: { b: 1, $c: 2 } }), true);
    const ref = { $ref: 'c', $id: 1 };
    assert.equal(match({ a: ref }, { a: ref }), true);
  });

  it('an empty filter matches everything and $comment is ignored', () => {
    assert.equal(match({}, { a: 1 }), true);
    assert.equal(match({ $comment: 'x', a: 1 }, { a: 1 }), true);
  });
});
