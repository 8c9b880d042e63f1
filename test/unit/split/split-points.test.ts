import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Decimal128, Double, Int32, Long, MaxKey, MinKey } from 'mongodb';

import { rangeFindOptions } from '../../../src/split/id-range.js';
import {
  chooseSplitPoints,
  estimateShares,
  rangeCountFor,
  sameId
} from '../../../src/split/split-points.js';

describe('rangeCountFor', () => {
  it('gives one range below twice the minimum, then one per minimum, up to the maximum', () => {
    assert.equal(rangeCountFor(0, 16, 10_000), 1);
    assert.equal(rangeCountFor(19_999, 16, 10_000), 1);
    assert.equal(rangeCountFor(20_000, 16, 10_000), 2);
    assert.equal(rangeCountFor(95_000, 16, 10_000), 9);
    assert.equal(rangeCountFor(1e12, 16, 10_000), 16);
    assert.equal(rangeCountFor(Number.NaN, 16, 10_000), 1);
    assert.equal(rangeCountFor(-5, 16, 1), 1);
  });
});

describe('chooseSplitPoints', () => {
  it('cuts a sorted sample at its quantiles', () => {
    const sample = Array.from({ length: 100 }, (_, i) => i);
    assert.deepEqual(chooseSplitPoints(sample, 4), [
      { id: 25, at: 25 },
      { id: 50, at: 50 },
      { id: 75, at: 75 }
    ]);
    assert.deepEqual(chooseSplitPoints(sample, 1), []);
  });

  it('collapses points MongoDB compares equal, whatever their numeric type', () => {
    const sample = [
      new Int32(0),
      new Int32(1),
      new Double(1),
      new Long(1),
      Decimal128.fromString('1.0'),
      new Int32(1),
      new Double(2),
      new Int32(2),
      'a'
    ];
    // Quantiles land at 3, 6 (a Long 1 and a Double 2): each moves back to the first equal sample.
    const points = chooseSplitPoints(sample, 3);
    assert.deepEqual(
      points.map(p => p.at),
      [1, 6]
    );
    assert.ok(points[0]!.id instanceof Int32, 'the first sample of an equal run is the bound');
    assert.ok(points[1]!.id instanceof Double);
    // More ranges than distinct values: still strictly increasing, no duplicate point.
    const many = chooseSplitPoints(sample, 9);
    assert.deepEqual(
      many.map(p => p.at),
      [1, 6, 8]
    );
  });

  it('drops points at the smallest sample, and MinKey or MaxKey', () => {
    assert.deepEqual(chooseSplitPoints([7, 7, 7, 7], 4), []);
    const withKeys = [new MinKey(), new MinKey(), 1, 2, new MaxKey(), new MaxKey()];
    assert.deepEqual(
      chooseSplitPoints(withKeys, 3).map(p => p.id),
      [1]
    );
    assert.deepEqual(
      chooseSplitPoints([1, 2, new MaxKey(), new MaxKey()], 2).map(p => p.id),
      []
    );
  });

  it('copes with fewer samples than ranges, and with none', () => {
    assert.deepEqual(chooseSplitPoints(['a', 'b'], 8), [{ id: 'b', at: 1 }]);
    assert.deepEqual(chooseSplitPoints([], 8), []);
  });
});

describe('sameId', () => {
  it('follows MongoDB equality: numbers by value, documents by field order', () => {
    assert.ok(sameId(new Int32(1), Decimal128.fromString('1.00')));
    assert.ok(!sameId(new Double(0.1), Decimal128.fromString('0.1')));
    assert.ok(!sameId({ a: 1, b: 2 }, { b: 2, a: 1 }));
    assert.ok(!sameId('1', 1));
  });
});

describe('estimateShares', () => {
  it('shares the count in proportion to the samples per range, summing exactly', () => {
    const points = [
      { id: 'x', at: 10 },
      { id: 'y', at: 40 }
    ];
    assert.deepEqual(estimateShares(points, 100, 1000), [100, 300, 600]);
    const uneven = estimateShares(points, 100, 7);
    assert.equal(
      uneven.reduce((a, b) => a + b, 0),
      7
    );
    assert.ok(uneven.every(share => share >= 0));
    assert.deepEqual(estimateShares([], 0, 42), [42]);
  });
});

describe('rangeFindOptions', () => {
  const base = { namespace: 'a.b', index: 0, count: 1, estimatedDocuments: 0 };

  it('needs no hint for a collection read whole', () => {
    assert.deepEqual(rangeFindOptions(base), {});
  });

  it('bounds the _id index scan for a cut range, a null bound included', () => {
    const min = new Int32(5);
    assert.deepEqual(rangeFindOptions({ ...base, count: 3, index: 1, min, max: 'k' }), {
      hint: { _id: 1 },
      min: { _id: min },
      max: { _id: 'k' }
    });
    assert.deepEqual(rangeFindOptions({ ...base, count: 2, max: null }), {
      hint: { _id: 1 },
      max: { _id: null }
    });
    assert.deepEqual(rangeFindOptions({ ...base, count: 2, index: 1, min: 'k' }), {
      hint: { _id: 1 },
      min: { _id: 'k' }
    });
  });
});
