import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  Binary,
  BSONSymbol,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID
} from 'bson';

import { hashId, laneOf } from '../../../src/apply/lane-hash.js';
import { canonicalIdBytes, canonicalNumber } from '../../../src/bson/canonical-id.js';

const NS = 'shop.orders';
const equalBytes = (a: unknown, b: unknown) =>
  assert.deepEqual(canonicalIdBytes(a), canonicalIdBytes(b), `${String(a)} vs ${String(b)}`);
const differentBytes = (a: unknown, b: unknown) =>
  assert.notDeepEqual(canonicalIdBytes(a), canonicalIdBytes(b));

describe('laneOf: equal values share a lane', () => {
  it('numbers MongoDB considers equal hash equal, whatever their BSON type', () => {
    const ones = [
      1,
      1n,
      new Int32(1),
      new Double(1),
      Long.fromNumber(1),
      Decimal128.fromString('1'),
      Decimal128.fromString('1.0'),
      Decimal128.fromString('1.000'),
      Decimal128.fromString('0.01E+2')
    ];
    for (const one of ones) equalBytes(one, 1);
    const lanes = new Set(ones.map(one => laneOf(NS, one, 16)));
    assert.equal(lanes.size, 1);

    equalBytes(new Double(0.5), Decimal128.fromString('0.50'));
    equalBytes(-0, 0);
    equalBytes(Decimal128.fromString('-0.0'), 0);
    equalBytes(Long.fromString('1000000000000'), Decimal128.fromString('1E+12'));
    equalBytes(Number.NaN, Decimal128.fromString('NaN'));
    equalBytes(Infinity, Decimal128.fromString('Infinity'));
    equalBytes(2 ** 60, Long.fromBigInt(2n ** 60n));
  });

  it('numbers MongoDB considers different hash differently', () => {
    // Double 0.1 is not exactly 1/10, and MongoDB compares Decimal128 with doubles exactly.
    differentBytes(0.1, Decimal128.fromString('0.1'));
    differentBytes(Long.fromBigInt(2n ** 53n + 1n), 2 ** 53);
    differentBytes(1, -1);
    differentBytes(10, 1);
    differentBytes(1, '1');
    differentBytes(Infinity, -Infinity);
    assert.equal(canonicalNumber(-1200), '-12e2');
    assert.equal(canonicalNumber(0.5), '5e-1');
  });

  it('documents compare field by field in order, with numbers inside canonicalised', () => {
    equalBytes({ a: 1, b: 2 }, { a: new Int32(1), b: Decimal128.fromString('2.0') });
    differentBytes({ a: 1, b: 2 }, { b: 2, a: 1 });
    differentBytes({ a: { b: 1 } }, { a: [1] });
    differentBytes({ a: 'x', b: '' }, { a: '', b: 'x' });
    equalBytes(new Map([['a', 1]]), { a: 1 });
  });

  it('other BSON types have their own canonical bytes', () => {
    const oid = new ObjectId();
    equalBytes(oid, new ObjectId(oid.toHexString()));
    differentBytes(oid, oid.toHexString());
    equalBytes(new Date(5), new Date(5));
    differentBytes(new Date(5), 5);
    equalBytes(new Binary(Buffer.from('ab'), 0), Buffer.from('ab'));
    differentBytes(new Binary(Buffer.from('ab'), 0), new Binary(Buffer.from('ab'), 5));
    const uuid = new UUID();
    equalBytes(uuid, new Binary(uuid.buffer, 4));
    equalBytes(new BSONSymbol('s'), 's');
    equalBytes(undefined, null);
    differentBytes(null, false);
    differentBytes(true, false);
    differentBytes(new MinKey(), new MaxKey());
    differentBytes(new Timestamp({ t: 1, i: 2 }), new Timestamp({ t: 2, i: 1 }));
    differentBytes(['a', 'b'], ['ab']);
  });

  it('is deterministic and seeded by the namespace', () => {
    // Fixed values: a lane depends on nothing but the namespace and the _id (not the process,
    // the platform or the order of calls); a change of these figures must be deliberate.
    assert.equal(hashId('shop.orders', 42), 2405259629);
    assert.equal(hashId('shop.orders', 'alice'), 499438474);
    assert.equal(hashId('a.b', new Long(7)), 1617409340);
    assert.equal(hashId('a.b', { k: 1, v: 'x' }), 1153684861);
    const ids = Array.from({ length: 64 }, (_, i) => i);
    const differs = ids.filter(id => hashId('a.b', id) !== hashId('a.c', id));
    assert.equal(differs.length, ids.length);
  });

  it('validates the lane count', () => {
    assert.equal(laneOf(NS, 1, 1), 0);
    assert.throws(() => laneOf(NS, 1, 0), RangeError);
    assert.throws(() => laneOf(NS, 1, 2.5), RangeError);
  });
});

describe('laneOf: distribution', () => {
  /** Pearson's chi-square statistic of the counts against a uniform spread. */
  function chiSquare(counts: number[], total: number): number {
    const expected = total / counts.length;
    return counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
  }
  // 15 degrees of freedom: P(chi² > 37.70) = 0.001 for a uniform hash.
  const CRITICAL = 37.7;

  for (const [name, make] of [
    ['sequential numbers', (i: number) => i],
    ['sequential Int64', (i: number) => Long.fromNumber(i * 1000)],
    ['ObjectIds', (i: number) => ObjectId.createFromTime(1_700_000_000 + i)],
    ['short strings', (i: number) => `user-${i}`]
  ] as const) {
    it(`spreads ${name} evenly over 16 lanes`, () => {
      const total = 16_000;
      const counts = new Array<number>(16).fill(0);
      for (let i = 0; i < total; i++) counts[laneOf(NS, make(i), 16)]! += 1;
      const statistic = chiSquare(counts, total);
      assert.ok(statistic < CRITICAL, `chi² ${statistic.toFixed(1)} for ${counts.join(',')}`);
      assert.ok(Math.max(...counts) / Math.min(...counts) < 1.2, counts.join(','));
    });
  }
});
