import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Binary, Decimal128, Double, Long } from 'bson';

import { ids, match } from './fixtures.js';

describe('query element operators', () => {
  it('$exists looks for the field, through arrays of documents', () => {
    const docs = [{ _id: 1, a: null }, { _id: 2 }, { _id: 3, a: [] }, { _id: 4, a: { b: 1 } }];
    assert.deepEqual(ids({ a: { $exists: true } }, docs), [1, 3, 4]);
    assert.deepEqual(ids({ a: { $exists: false } }, docs), [2]);
    assert.deepEqual(ids({ a: { $exists: 0 } }, docs), [2]);
    assert.equal(match({ 'a.b': { $exists: true } }, { a: [{ c: 1 }, { b: 2 }] }), true);
    assert.equal(match({ 'a.b': { $exists: false } }, { a: [{ c: 1 }, { b: 2 }] }), false);
  });

  it('$type takes aliases, codes, "number" and lists; arrays match "array" and their elements', () => {
    const docs = [
      { _id: 1, a: 1 },
      { _id: 2, a: 1.5 },
      { _id: 3, a: 'x' },
      { _id: 4, a: [1, 'y'] },
      { _id: 5, a: null },
      { _id: 6, a: new Long(3) },
      { _id: 7 }
    ];
    assert.deepEqual(ids({ a: { $type: 'int' } }, docs), [1, 4]);
    assert.deepEqual(ids({ a: { $type: 1 } }, docs), [2]);
    assert.deepEqual(ids({ a: { $type: 'number' } }, docs), [1, 2, 4, 6]);
    assert.deepEqual(ids({ a: { $type: ['string', 'null'] } }, docs), [3, 4, 5]);
    assert.deepEqual(ids({ a: { $type: 'array' } }, docs), [4]);
    assert.deepEqual(ids({ a: { $type: 4 } }, docs), [4]);
    assert.deepEqual(ids({ a: { $type: 'long' } }, docs), [6]);
  });

  it('$size counts the array itself, not inner arrays', () => {
    assert.equal(match({ a: { $size: 2 } }, { a: [1, 2] }), true);
    assert.equal(match({ a: { $size: 1 } }, { a: [[1, 2]] }), true);
    assert.equal(match({ a: { $size: 2 } }, { a: [[1, 2]] }), false);
    assert.equal(match({ a: { $size: 0 } }, { a: [] }), true);
    assert.equal(match({ a: { $size: 0 } }, {}), false);
    assert.equal(match({ 'a.b': { $size: 1 } }, { a: [{ b: [1] }] }), true);
    assert.equal(match({ a: { $size: 2.0 } }, { a: [1, 2] }), true);
  });

  it('$mod truncates the dividend and follows the sign of the dividend', () => {
    assert.equal(match({ a: { $mod: [4, 1] } }, { a: 5 }), true);
    assert.equal(match({ a: { $mod: [4, 1] } }, { a: 5.9 }), true);
    assert.equal(match({ a: { $mod: [4, -1] } }, { a: -5 }), true);
    assert.equal(match({ a: { $mod: [4, 1] } }, { a: -5 }), false);
    assert.equal(match({ a: { $mod: [4, 0] } }, { a: 'x' }), false);
    assert.equal(match({ a: { $mod: [4, 0] } }, { a: new Double(NaN) }), false);
    assert.equal(match({ a: { $mod: [4.5, 1] } }, { a: [2, 9] }), true);
  });

  it('$bits operators take positions, masks or BinData, on integral numbers and BinData', () => {
    assert.equal(match({ a: { $bitsAllSet: [0, 2] } }, { a: 5 }), true);
    assert.equal(match({ a: { $bitsAllSet: 6 } }, { a: 5 }), false);
    assert.equal(match({ a: { $bitsAnySet: 6 } }, { a: 5 }), true);
    assert.equal(match({ a: { $bitsAllClear: [1, 3] } }, { a: 5 }), true);
    assert.equal(match({ a: { $bitsAnyClear: [0, 1] } }, { a: 5 }), true);
    assert.equal(match({ a: { $bitsAllSet: [70] } }, { a: -1 }), true);
    assert.equal(match({ a: { $bitsAllSet: [70] } }, { a: new Long(1) }), false);
    assert.equal(match({ a: { $bitsAllSet: [0] } }, { a: 1.5 }), false);
    assert.equal(match({ a: { $bitsAllSet: [0] } }, { a: Decimal128.fromString('3') }), true);
    assert.equal(match({ a: { $bitsAllSet: [0] } }, { a: 'x' }), false);
    const bin = new Binary(Buffer.from([0b101, 0b1]));
    assert.equal(match({ a: { $bitsAllSet: [0, 2, 8] } }, { a: bin }), true);
    assert.equal(match({ a: { $bitsAllSet: [20] } }, { a: bin }), false);
    assert.equal(match({ a: { $bitsAllSet: new Binary(Buffer.from([0b100])) } }, { a: 4 }), true);
  });

  it('$regex with $options i, m, s and x', () => {
    assert.equal(match({ a: { $regex: '^AB', $options: 'i' } }, { a: 'abc' }), true);
    assert.equal(match({ a: { $regex: '^b', $options: 'm' } }, { a: 'a\nb' }), true);
    assert.equal(match({ a: { $regex: '^b' } }, { a: 'a\nb' }), false);
    assert.equal(match({ a: { $regex: 'a.b', $options: 's' } }, { a: 'a\nb' }), true);
    assert.equal(match({ a: { $regex: 'a.b' } }, { a: 'a\nb' }), false);
    const extended = '^a  b # comment\n c$';
    assert.equal(match({ a: { $regex: extended, $options: 'x' } }, { a: 'abc' }), true);
    assert.equal(match({ a: { $regex: 'a\\ b', $options: 'x' } }, { a: 'a b' }), true);
    assert.equal(match({ a: { $regex: /^ab/i } }, { a: 'ABc' }), true);
    assert.equal(match({ a: { $regex: '(?i)^ab' } }, { a: 'ABc' }), true);
    assert.equal(match({ a: { $regex: '\\Aab\\z' } }, { a: 'ab' }), true);
    assert.equal(match({ a: { $options: 'i', $regex: 'B' } }, { a: ['x', 'b'] }), true);
  });

  it('$not negates an operator document or a regex, and matches missing fields', () => {
    assert.equal(match({ a: { $not: { $gt: 2 } } }, { a: 1 }), true);
    assert.equal(match({ a: { $not: { $gt: 2 } } }, { a: [1, 3] }), false);
    assert.equal(match({ a: { $not: { $gt: 2 } } }, {}), true);
    assert.equal(match({ a: { $not: /^a/ } }, { a: 'abc' }), false);
    assert.equal(match({ a: { $not: /^a/ } }, { a: 'xyz' }), true);
    assert.equal(match({ a: { $not: { $regex: '^a' } } }, { a: 'xyz' }), true);
  });

  it('$all needs every value, and takes $elemMatch items', () => {
    assert.equal(match({ a: { $all: [1, 2] } }, { a: [2, 3, 1] }), true);
    assert.equal(match({ a: { $all: [1, 4] } }, { a: [2, 3, 1] }), false);
    assert.equal(match({ a: { $all: [1] } }, { a: 1 }), true);
    assert.equal(match({ a: { $all: [] } }, { a: [] }), false);
    assert.equal(match({ a: { $all: [/^x/, 'yb'] } }, { a: ['xa', 'yb'] }), true);
    assert.equal(match({ a: { $all: [[1, 2]] } }, { a: [[1, 2], 3] }), true);
    const filter = {
      a: { $all: [{ $elemMatch: { b: 1, c: 2 } }, { $elemMatch: { b: 3 } }] }
    };
    assert.equal(match(filter, { a: [{ b: 1, c: 2 }, { b: 3 }] }), true);
    assert.equal(match(filter, { a: [{ b: 1 }, { c: 2 }, { b: 3 }] }), false);
  });

  it('$elemMatch in value form applies all operators to one element', () => {
    assert.equal(match({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { a: [0, 2, 5] }), true);
    assert.equal(match({ a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { a: [0, 5] }), false);
    assert.equal(match({ a: { $elemMatch: { $gt: 1 } } }, { a: 5 }), false);
    assert.equal(match({ a: { $elemMatch: { $eq: 1 } } }, { a: [[1]] }), false);
    assert.equal(match({ a: { $elemMatch: { $not: { $gt: 1 } } } }, { a: [5, 0] }), true);
    assert.equal(match({ a: { $elemMatch: { $size: 1 } } }, { a: [[1], 2] }), true);
  });

  it('$elemMatch in query form matches a single embedded document', () => {
    const filter = { a: { $elemMatch: { b: 1, c: { $gt: 1 } } } };
    assert.equal(
      match(filter, {
        a: [
          { b: 1, c: 0 },
          { b: 2, c: 5 }
        ]
      }),
      false
    );
    assert.equal(
      match(filter, {
        a: [
          { b: 1, c: 0 },
          { b: 1, c: 5 }
        ]
      }),
      true
    );
    assert.equal(
      match({ a: { $elemMatch: { $or: [{ b: 1 }, { c: 1 }] } } }, { a: [{ c: 1 }] }),
      true
    );
    assert.equal(match({ a: { $elemMatch: {} } }, { a: [1, { x: 1 }] }), true);
    assert.equal(match({ a: { $elemMatch: {} } }, { a: [1, 2] }), false);
    assert.equal(match({ a: { $elemMatch: { '0': 1 } } }, { a: [[1, 2]] }), true);
    assert.equal(match({ 'a.b': { $elemMatch: { c: 1 } } }, { a: [{ b: [{ c: 1 }] }] }), true);
  });

  it('$and, $or, $nor combine clauses', () => {
    const docs = [
      { _id: 1, a: 1, b: 1 },
      { _id: 2, a: 1, b: 2 },
      { _id: 3, a: 2, b: 2 }
    ];
    assert.deepEqual(ids({ $and: [{ a: 1 }, { b: 2 }] }, docs), [2]);
    assert.deepEqual(ids({ $or: [{ a: 2 }, { b: 1 }] }, docs), [1, 3]);
    assert.deepEqual(ids({ $nor: [{ a: 2 }, { b: 1 }] }, docs), [2]);
    assert.deepEqual(ids({ a: 1, $or: [{ b: 2 }, { b: 3 }] }, docs), [2]);
  });

  it('$alwaysTrue and $alwaysFalse', () => {
    assert.equal(match({ $alwaysTrue: 1 }, {}), true);
    assert.equal(match({ $alwaysFalse: 1 }, {}), false);
  });
});

describe('query timestamps', () => {
  it('a Timestamp is its own type, not a number', async () => {
    const { Timestamp } = await import('bson');
    const ts = new Timestamp({ t: 1, i: 2 });
    assert.equal(match({ a: { $type: 'timestamp' } }, { a: ts }), true);
    assert.equal(match({ a: { $type: 'number' } }, { a: ts }), false);
    assert.equal(match({ a: { $gt: 0 } }, { a: ts }), false);
  });
});
