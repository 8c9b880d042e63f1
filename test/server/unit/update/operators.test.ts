import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Decimal128, Double, Int32, Long, Timestamp } from 'bson';

import type { BDoc } from '../../bson/values.js';
import { applyUpdate, type UpdateContext } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW, pairs } from './fixtures.js';

const up = (doc: BDoc, update: BDoc, ctx: Partial<UpdateContext> = {}): BDoc =>
  applyUpdate(doc, update, { now: NOW, ...ctx });

describe('$set / $unset', () => {
  it('replaces in place, keeps the type of the new value', () => {
    assertIdentical(
      up(d({ _id: 1, a: 1, b: 2 }), d({ $set: { a: 1.5 } })),
      d({ _id: 1, a: 1.5, b: 2 })
    );
    assertIdentical(
      up(d({ _id: 1, a: new Int32(1) }), d({ $set: { a: new Double(1) } })),
      pairs([
        ['_id', 1],
        ['a', new Double(1)]
      ])
    );
  });
  it('does not mutate the input', () => {
    const doc = d({ _id: 1, a: { b: [1, 2] } });
    up(doc, d({ $set: { 'a.b.0': 9, 'a.c': 1 } }));
    up(doc, d({ $push: { 'a.b': 3 } }));
    assertIdentical(doc, d({ _id: 1, a: { b: [1, 2] } }));
  });
  it('$unset removes fields, nulls array elements, ignores missing paths', () => {
    assertIdentical(up(d({ _id: 1, a: 1, b: 2 }), d({ $unset: { a: '' } })), d({ _id: 1, b: 2 }));
    assertIdentical(
      up(d({ _id: 1, a: [1, 2, 3] }), d({ $unset: { 'a.1': 1 } })),
      d({ _id: 1, a: [1, null, 3] })
    );
    assertIdentical(
      up(d({ _id: 1, a: 1 }), d({ $unset: { 'a.b': 1, c: 1 } })),
      d({ _id: 1, a: 1 })
    );
  });
  it('empty operator documents are no-ops', () => {
    assertIdentical(up(d({ _id: 1, a: 1 }), d({ $set: {} })), d({ _id: 1, a: 1 }));
  });
});

describe('$min / $max', () => {
  it('compares across types with the BSON order', () => {
    assertIdentical(up(d({ _id: 1, a: 5 }), d({ $min: { a: 3 } })), d({ _id: 1, a: 3 }));
    assertIdentical(up(d({ _id: 1, a: 5 }), d({ $max: { a: 3 } })), d({ _id: 1, a: 5 }));
    assertIdentical(up(d({ _id: 1, a: 5 }), d({ $max: { a: 'x' } })), d({ _id: 1, a: 'x' }));
    assertIdentical(up(d({ _id: 1, a: null }), d({ $min: { a: 1 } })), d({ _id: 1, a: null }));
    assertIdentical(up(d({ _id: 1 }), d({ $max: { a: 1 } })), d({ _id: 1, a: 1 }));
  });
  it('equal values of another type are a no-op', () => {
    const doc = pairs([
      ['_id', 1],
      ['a', new Int32(1)]
    ]);
    assertIdentical(up(doc, d({ $min: { a: new Double(1) } })), doc);
  });
});

describe('$rename', () => {
  it('moves the value to the destination (appended when new)', () => {
    assertIdentical(
      up(d({ _id: 1, a: 1, c: 2 }), d({ $rename: { a: 'b' } })),
      d({ _id: 1, c: 2, b: 1 })
    );
    assertIdentical(up(d({ _id: 1, a: 1, b: 2 }), d({ $rename: { a: 'b' } })), d({ _id: 1, b: 1 }));
    assertIdentical(
      up(d({ _id: 1, a: { x: 1 } }), d({ $rename: { 'a.x': 'b.y' } })),
      d({ _id: 1, a: {}, b: { y: 1 } })
    );
    assertIdentical(up(d({ _id: 1 }), d({ $rename: { a: 'b' } })), d({ _id: 1 }));
  });
  it('rejects bad specs and array paths', () => {
    assertServerError(
      () => up(d({ _id: 1 }), d({ $rename: { a: 1 } })),
      2,
      "The 'to' field for $rename must be a string: a: 1"
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $rename: { a: 'a' } })),
      2,
      'The source and target field for $rename must differ: a: "a"'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $rename: { a: 'a.b' } })),
      2,
      'The source and target field for $rename must not be on the same path: a: "a.b"'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $rename: { 'a.$': 'b' } })),
      2,
      'The source field for $rename may not be dynamic: a.$'
    );
    assertServerError(
      () => up(d({ _id: 1, a: [{ x: 1 }] }), d({ $rename: { 'a.0.x': 'b' } })),
      2,
      "The source field cannot be an array element, 'a.0.x' in doc with _id: 1 has an array field called 'a'"
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1, b: [{}] }), d({ $rename: { a: 'b.0.c' } })),
      2,
      "The destination field cannot be an array element, 'b.0.c' in doc with _id: 1 has an array field called 'b'"
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $rename: { 'a.b': 'c' } })),
      28,
      'cannot use the part (a of a.b) to traverse the element ({a: 1})'
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $rename: { a: 'b' }, $set: { b: 1 } })),
      40
    );
  });
});

describe('$push', () => {
  it('appends, creates, and rejects non-arrays', () => {
    assertIdentical(up(d({ _id: 1, a: [1] }), d({ $push: { a: 2 } })), d({ _id: 1, a: [1, 2] }));
    assertIdentical(up(d({ _id: 1 }), d({ $push: { a: [2] } })), d({ _id: 1, a: [[2]] }));
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $push: { a: 2 } })),
      2,
      "The field 'a' must be an array but is of type int in document {_id: 1}"
    );
  });
  it('$each with $position, $sort and $slice', () => {
    const doc = d({ _id: 1, a: [1, 2, 3] });
    assertIdentical(
      up(doc, d({ $push: { a: { $each: [8, 9], $position: 1 } } })),
      d({ _id: 1, a: [1, 8, 9, 2, 3] })
    );
    assertIdentical(
      up(doc, d({ $push: { a: { $each: [8], $position: -1 } } })),
      d({ _id: 1, a: [1, 2, 8, 3] })
    );
    assertIdentical(
      up(doc, d({ $push: { a: { $each: [8], $position: -9 } } })),
      d({ _id: 1, a: [8, 1, 2, 3] })
    );
    assertIdentical(
      up(doc, d({ $push: { a: { $each: [0], $sort: -1 } } })),
      d({ _id: 1, a: [3, 2, 1, 0] })
    );
    assertIdentical(
      up(doc, d({ $push: { a: { $each: [4], $slice: -2 } } })),
      d({ _id: 1, a: [3, 4] })
    );
    assertIdentical(up(doc, d({ $push: { a: { $each: [], $slice: 1 } } })), d({ _id: 1, a: [1] }));
    assertIdentical(
      up(
        d({ _id: 1, a: [{ s: 2 }, { s: 1 }, 5] }),
        d({ $push: { a: { $each: [{ s: 0 }], $sort: { s: 1 } } } })
      ),
      d({ _id: 1, a: [5, { s: 0 }, { s: 1 }, { s: 2 }] })
    );
    // Without $each the whole document is pushed.
    assertIdentical(
      up(d({ _id: 1, a: [] }), d({ $push: { a: { $slice: 1 } } })),
      d({ _id: 1, a: [{ $slice: 1 }] })
    );
  });
  it('rejects bad clauses', () => {
    assertServerError(
      () => up(d({ _id: 1 }), d({ $push: { a: { $each: [1], $foo: 1 } } })),
      2,
      'Unrecognized clause in $push: $foo'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $push: { a: { $each: 1 } } })),
      2,
      'The argument to $each in $push must be an array but it was of type: int'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $push: { a: { $each: [], $slice: 'x' } } })),
      2,
      'The value for $slice must be an integer value but was given type: string'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $push: { a: { $each: [], $sort: 2 } } })),
      2,
      'The $sort element value must be either 1 or -1'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $push: { a: { $each: [], $position: 1.5 } } })),
      2,
      'The value for $position must be an integer value, not of type: double'
    );
  });
});

describe('$addToSet', () => {
  it('adds missing values only, numerically equal counts as present', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 2] }), d({ $addToSet: { a: 2.0 } })),
      d({ _id: 1, a: [1, 2] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [1] }), d({ $addToSet: { a: { $each: [3, 1, 3, 4] } } })),
      d({ _id: 1, a: [1, 3, 4] })
    );
    assertIdentical(
      up(d({ _id: 1 }), d({ $addToSet: { a: { $each: [1, 1] } } })),
      d({ _id: 1, a: [1] })
    );
  });
  it('rejects non-arrays', () => {
    assertServerError(
      () => up(d({ _id: 1, a: 'x' }), d({ $addToSet: { a: 1 } })),
      2,
      "Cannot apply $addToSet to non-array field. Field named 'a' has non-array type string"
    );
    assertServerError(() => up(d({ _id: 1 }), d({ $addToSet: { a: { $each: 1 } } })), 14);
  });
});

describe('$pop / $pullAll', () => {
  it('$pop removes from either end', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 2, 3] }), d({ $pop: { a: 1 } })),
      d({ _id: 1, a: [1, 2] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [1, 2, 3] }), d({ $pop: { a: -1 } })),
      d({ _id: 1, a: [2, 3] })
    );
    assertIdentical(up(d({ _id: 1 }), d({ $pop: { a: 1 } })), d({ _id: 1 }));
    assertServerError(
      () => up(d({ _id: 1 }), d({ $pop: { a: 2 } })),
      9,
      '$pop expects 1 or -1, found: 2'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $pop: { a: 'x' } })),
      9,
      'Expected a number in: a: "x"'
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $pop: { a: 1 } })),
      14,
      "Path 'a' contains an element of non-array type 'int'"
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $pop: { 'a.b': 1 } })),
      28,
      'Cannot use the part (b) of (a.b) to traverse the element ({a: 1})'
    );
  });
  it('$pullAll removes every equal value', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 2, 1, 3] }), d({ $pullAll: { a: [1, 3.0] } })),
      d({ _id: 1, a: [2] })
    );
    assertServerError(
      () => up(d({ _id: 1, a: [] }), d({ $pullAll: { a: 1 } })),
      2,
      '$pullAll requires an array argument but was given a int'
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $pullAll: { a: [1] } })),
      2,
      'Cannot apply $pullAll to a non-array value'
    );
  });
});

describe('$currentDate / $setOnInsert / $bit', () => {
  it('$currentDate sets dates and timestamps', () => {
    assertIdentical(
      up(d({ _id: 1 }), d({ $currentDate: { a: true, b: { $type: 'date' } } })),
      pairs([
        ['_id', 1],
        ['a', NOW],
        ['b', NOW]
      ])
    );
    const ts = new Timestamp({ t: 5, i: 7 });
    assertIdentical(
      up(d({ _id: 1, a: 1 }), d({ $currentDate: { a: { $type: 'timestamp' } } }), {
        timestamp: ts
      }),
      pairs([
        ['_id', 1],
        ['a', ts]
      ])
    );
    assertServerError(() => up(d({ _id: 1 }), d({ $currentDate: { a: { $type: 'x' } } })), 2);
    assertServerError(
      () => up(d({ _id: 1 }), d({ $currentDate: { a: { foo: 1 } } })),
      2,
      'Unrecognized $currentDate option: foo'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $currentDate: { a: 1 } })),
      2,
      /^int is not valid type for \$currentDate/
    );
  });
  it('$setOnInsert applies only on upsert inserts', () => {
    assertIdentical(up(d({ _id: 1 }), d({ $setOnInsert: { a: 1 } })), d({ _id: 1 }));
    assertIdentical(
      up(d({ _id: 1 }), d({ $setOnInsert: { a: 1 } }), { isUpsertInsert: true }),
      d({ _id: 1, a: 1 })
    );
    assertServerError(() => up(d({ _id: 1 }), d({ $setOnInsert: { a: 1 }, $set: { a: 2 } })), 40);
  });
  it('$bit and/or/xor keep int32 unless a long is involved', () => {
    assertIdentical(up(d({ _id: 1, a: 13 }), d({ $bit: { a: { and: 10 } } })), d({ _id: 1, a: 8 }));
    assertIdentical(
      up(d({ _id: 1, a: 13 }), d({ $bit: { a: { or: 2, xor: 1 } } })),
      d({ _id: 1, a: 14 })
    );
    assertIdentical(
      up(d({ _id: 1, a: 1 }), d({ $bit: { a: { or: Long.fromNumber(2) } } })),
      pairs([
        ['_id', 1],
        ['a', Long.fromNumber(3)]
      ])
    );
    assertIdentical(up(d({ _id: 1 }), d({ $bit: { a: { or: 5 } } })), d({ _id: 1, a: 5 }));
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $bit: { a: { nand: 1 } } })),
      2,
      /only supports 'and', 'or', and 'xor', not 'nand'/
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $bit: { a: { and: 1.5 } } })),
      2,
      /a 'double' is not supported here/
    );
    assertServerError(
      () => up(d({ _id: 1, a: 1.5 }), d({ $bit: { a: { and: 1 } } })),
      2,
      'Cannot apply $bit to a value of non-integral type._id: 1 has the field a of non-integer type double'
    );
  });
});

describe('decimal arithmetic', () => {
  it('$inc with a Decimal128 yields a Decimal128', () => {
    const out = up(d({ _id: 1, a: 1 }), d({ $inc: { a: Decimal128.fromString('0.5') } }));
    assert.equal((out.get('a') as Decimal128).toString(), '1.5');
  });
});
