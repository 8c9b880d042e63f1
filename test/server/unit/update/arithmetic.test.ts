import { describe, it } from 'node:test';

import { Decimal128, Double, Int32, Long } from 'bson';

import type { BDoc, BValue } from '../../bson/values.js';
import { applyUpdate } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW, pairs } from './fixtures.js';

const up = (doc: BDoc, update: BDoc): BDoc => applyUpdate(doc, update, { now: NOW });
const withA = (a: BValue): BDoc =>
  pairs([
    ['_id', 1],
    ['a', a]
  ]);

describe('$inc / $mul type promotion (SafeNum)', () => {
  it('int32 + int32 stays int32 until it overflows to int64', () => {
    assertIdentical(up(withA(new Int32(1)), d({ $inc: { a: 2 } })), withA(new Int32(3)));
    assertIdentical(
      up(withA(new Int32(2 ** 31 - 1)), d({ $inc: { a: 1 } })),
      withA(Long.fromNumber(2 ** 31))
    );
    assertIdentical(
      up(withA(new Int32(2 ** 16)), d({ $mul: { a: 2 ** 16 } })),
      withA(Long.fromNumber(2 ** 32))
    );
  });
  it('int32 with int64 gives int64; any double gives double', () => {
    assertIdentical(
      up(withA(new Int32(1)), d({ $inc: { a: Long.fromNumber(1) } })),
      withA(Long.fromNumber(2))
    );
    assertIdentical(up(withA(Long.fromNumber(1)), d({ $inc: { a: 0.5 } })), withA(new Double(1.5)));
    assertIdentical(up(withA(new Double(2)), d({ $mul: { a: 3 } })), withA(new Double(6)));
  });
  it('int64 overflow is an error', () => {
    assertServerError(
      () => up(withA(Long.MAX_VALUE), d({ $inc: { a: 1 } })),
      2,
      'Failed to apply $inc operations to current value ((NumberLong)9223372036854775807) for document {_id: 1}'
    );
  });
  it('decimals win and doubles convert with 15 digits', () => {
    const out = up(withA(new Double(0.1)), d({ $inc: { a: Decimal128.fromString('1') } }));
    assertIdentical(out, withA(Decimal128.fromString('1.100000000000000')));
  });
  it('missing fields are created with the operand type ($mul makes zero)', () => {
    assertIdentical(
      up(d({ _id: 1 }), d({ $inc: { a: Long.fromNumber(5) } })),
      withA(Long.fromNumber(5))
    );
    assertIdentical(up(d({ _id: 1 }), d({ $mul: { a: 5 } })), withA(new Int32(0)));
    assertIdentical(
      up(d({ _id: 1 }), d({ $mul: { a: Long.fromNumber(5) } })),
      withA(Long.fromNumber(0))
    );
    assertIdentical(up(d({ _id: 1 }), d({ $mul: { a: 2.5 } })), withA(new Double(0)));
  });
  it('$inc by zero keeps the stored type', () => {
    assertIdentical(
      up(withA(new Int32(4)), d({ $inc: { a: Long.fromNumber(0) } })),
      withA(Long.fromNumber(4))
    );
    assertIdentical(up(withA(new Int32(4)), d({ $inc: { a: 0 } })), withA(new Int32(4)));
  });
  it('rejects non-numeric operands and targets', () => {
    assertServerError(
      () => up(d({ _id: 1 }), d({ $inc: { a: 'x' } })),
      14,
      'Cannot increment with non-numeric argument: {a: "x"}'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $mul: { a: null } })),
      14,
      'Cannot multiply with non-numeric argument: {a: null}'
    );
    assertServerError(
      () => up(d({ _id: 1, a: 'x' }), d({ $inc: { a: 1 } })),
      14,
      "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 'a' of non-numeric type string"
    );
    assertServerError(
      () => up(d({ _id: 'k', a: [{ b: true }] }), d({ $mul: { 'a.0.b': 1 } })),
      14,
      `Cannot apply $mul to a value of non-numeric type. {_id: "k"} has the field 'b' of non-numeric type bool`
    );
  });
});
