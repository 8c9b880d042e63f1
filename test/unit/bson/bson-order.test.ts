import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  Binary,
  BSON,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp
} from 'mongodb';

import { compareCanonicalDecimals, compareRawValues } from '../../../src/bson/bson-order.js';
import { rawId, type RawValue } from '../../../src/bson/raw-bson.js';
import { sameId } from '../../../src/split/split-points.js';

/** `value` as the verifier sees it: the raw `_id` element of a serialised document. */
function raw(value: unknown): RawValue {
  const id = rawId(BSON.serialize({ _id: value }));
  assert.ok(id);
  return id;
}

function label(value: unknown): string {
  return BSON.EJSON.stringify({ v: value } as BSON.Document, { relaxed: false });
}

/**
 * Values in MongoDB's order, each group holding values MongoDB considers equal (mongod's
 * `BSONElement::woCompare`: canonical type, then value).
 */
const ORDERED: readonly (readonly unknown[])[] = [
  [new MinKey()],
  [null],
  [new Double(NaN), Decimal128.fromString('NaN')],
  [new Double(-Infinity), Decimal128.fromString('-Infinity')],
  [new Double(-1e300)],
  [Long.fromString('-9223372036854775808')],
  [Long.fromNumber(-5), new Int32(-5), new Double(-5), Decimal128.fromString('-5.000')],
  [new Double(-0.5), Decimal128.fromString('-0.5')],
  [Decimal128.fromString('-0.1')],
  [new Int32(0), new Double(-0), Long.ZERO, Decimal128.fromString('-0E+3')],
  // Decimal 0.1 is below the double nearest to 0.1 (0.1000000000000000055…).
  [Decimal128.fromString('0.1')],
  [new Double(0.1)],
  [new Int32(1), new Double(1), Long.ONE, Decimal128.fromString('1.00')],
  [new Double(1.5), Decimal128.fromString('1.5')],
  [Long.fromNumber(2)],
  [new Double(2 ** 53)],
  [Long.fromString('9007199254740993')],
  [new Double(2 ** 53 + 2), Long.fromString('9007199254740994')],
  [Long.fromString('9223372036854775807')],
  [new Double(1e300)],
  [Decimal128.fromString('1E+6000')],
  [new Double(Infinity), Decimal128.fromString('Infinity')],
  ['', new BSONSymbol('')],
  ['A'],
  ['a', new BSONSymbol('a')],
  ['a\u0000b'],
  ['ab'],
  ['b'],
  ['é'],
  ['\u{1F600}'],
  [{}],
  [{ a: new Int32(1) }, { a: new Double(1) }],
  [{ a: new Int32(1), b: new Int32(1) }],
  [{ a: new Int32(2) }],
  [{ b: new Int32(0) }],
  // A string field sorts after every number field, whatever the names.
  [{ a: 'x' }],
  [{ a: { b: null } }],
  [[]],
  [[new Int32(1)]],
  [[new Int32(1), new Int32(2)]],
  [[new Int32(2)]],
  [new Binary(Buffer.from([9]), 0)],
  [new Binary(Buffer.from([0]), 4)],
  [new Binary(Buffer.from([0, 0]), 0)],
  [new ObjectId('000000000000000000000001')],
  [new ObjectId('ffffffffffffffffffffffff')],
  [false],
  [true],
  [new Date(-1)],
  [new Date(0)],
  [new Date(1_700_000_000_000)],
  [new Timestamp({ t: 1, i: 2 })],
  [new Timestamp({ t: 2, i: 1 })],
  [new Timestamp({ t: 0xffffffff, i: 0 })],
  [new BSONRegExp('a', 'i')],
  [new BSONRegExp('a', 'm')],
  [new BSONRegExp('ab', '')],
  [new BSONRegExp('b', '')],
  [new Code('a')],
  [new Code('b')],
  [new Code('a', { x: new Int32(1) })],
  [new Code('a', { x: new Int32(2) })],
  [new MaxKey()]
];

describe('compareRawValues', () => {
  it('orders values as MongoDB does, across and within types', () => {
    const flat = ORDERED.flatMap((group, rank) => group.map(value => ({ value, rank })));
    for (const a of flat) {
      for (const b of flat) {
        const expected = Math.sign(a.rank - b.rank);
        assert.equal(
          Math.sign(compareRawValues(raw(a.value), raw(b.value))),
          expected,
          `${label(a.value)} vs ${label(b.value)}`
        );
      }
    }
  });

  it('calls equal exactly the _ids the splitter calls the same', () => {
    const values = ORDERED.flat();
    for (const a of values) {
      for (const b of values) {
        assert.equal(
          compareRawValues(raw(a), raw(b)) === 0,
          sameId(a, b),
          `${label(a)} vs ${label(b)}`
        );
      }
    }
  });

  it('orders embedded values by exact numeric value', () => {
    const lower = raw({ n: new Double(9007199254740992) });
    const higher = raw({ n: Long.fromString('9007199254740993') });
    assert.equal(Math.sign(compareRawValues(lower, higher)), -1);
    assert.equal(Math.sign(compareRawValues(higher, lower)), 1);
  });
});

describe('compareCanonicalDecimals', () => {
  it('orders the canonical forms by value', () => {
    const ordered = [
      'NaN',
      '-Inf',
      '-12e3',
      '-1e0',
      '-123e-3',
      '0',
      '1e-5',
      '1e0',
      '11e-1',
      '12e-1',
      '2e0',
      '1e1',
      'Inf'
    ];
    ordered.forEach((a, i) =>
      ordered.forEach((b, j) =>
        assert.equal(Math.sign(compareCanonicalDecimals(a, b)), Math.sign(i - j), `${a} vs ${b}`)
      )
    );
  });
});
