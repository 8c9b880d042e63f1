import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Decimal128, Double, Int32, Long } from 'bson';

import { type BValue } from '../../bson/values.js';
import { compileAccumulator } from '../../engine/aggregate/accumulators.js';
import { MISSING, type Value } from '../../engine/aggregate/expr-core.js';
import { expressionParser } from '../../engine/aggregate/expressions.js';
import { ServerError } from '../../engine/server-error.js';
import { plain, v } from './fixtures.js';

function acc(op: string, values: Value[], arg: unknown = '$x'): unknown {
  const a = compileAccumulator('f', v({ [op]: arg }), expressionParser());
  const state = a.create();
  for (const x of values) state.add(x);
  const r = state.result();
  return r === MISSING ? 'MISSING' : plain(r);
}

describe('accumulators', () => {
  it('$sum keeps int, widens and ignores non-numbers', () => {
    assert.equal(acc('$sum', [new Int32(1), new Int32(2), 'x', null]), '3i');
    assert.equal(acc('$sum', [new Int32(2147483647), new Int32(1)]), '2147483648L');
    assert.equal(acc('$sum', [new Int32(1), new Long(2)]), '3L');
    assert.equal(acc('$sum', [new Int32(1), new Double(0.5)]), '1.5d');
    assert.equal(acc('$sum', [new Int32(1), Decimal128.fromString('0.5')]), '1.5m');
    assert.equal(acc('$sum', []), '0i');
    assert.equal(acc('$sum', [new Double(0.1), new Double(0.2), new Double(0.3)]), '0.6d');
  });
  it('$avg, $min, $max, $first, $last', () => {
    assert.equal(acc('$avg', [new Int32(1), new Int32(2)]), '1.5d');
    assert.equal(acc('$avg', ['a']), null);
    assert.equal(acc('$min', [new Int32(3), null, MISSING, new Int32(1)]), '1i');
    assert.equal(acc('$max', [new Int32(3), 'a']), 'a');
    assert.equal(acc('$max', [null]), null);
    assert.equal(acc('$first', [MISSING, new Int32(1)]), null);
    assert.equal(acc('$last', [new Int32(1), new Int32(2)]), '2i');
  });
  it('$push, $addToSet, $mergeObjects, $count, $stdDev*', () => {
    assert.deepEqual(acc('$push', [new Int32(1), MISSING, null]), ['1i', null]);
    assert.deepEqual(acc('$addToSet', [new Int32(1), new Double(1), new Long(1), new Int32(2)]), [
      '1i',
      '2i'
    ]);
    assert.deepEqual(acc('$mergeObjects', [v({ a: 1 }), null, v({ b: 2 })]), { a: '1i', b: '2i' });
    assert.equal(
      acc('$stdDevPop', [
        new Int32(2),
        new Int32(4),
        new Int32(4),
        new Int32(4),
        new Int32(5),
        new Int32(5),
        new Int32(7),
        new Int32(9)
      ]),
      '2d'
    );
    assert.equal(acc('$stdDevSamp', [new Int32(1)]), null);
  });
  it('rejects unknown accumulators', () => {
    assert.throws(
      () => compileAccumulator('f', v({ $foo: 1 }), expressionParser()),
      (e: unknown) => e instanceof ServerError && e.code === 15952
    );
  });
});

export type { BValue };
