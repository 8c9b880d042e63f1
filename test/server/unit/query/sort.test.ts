import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Binary, MaxKey, MinKey, ObjectId, Timestamp } from 'bson';

import { compileSort, sortKeyValue } from '../../engine/query/sort.js';
import { bv, d, errorOf } from './fixtures.js';

function order(sort: Record<string, unknown>, docs: Record<string, unknown>[]): number[] {
  const comparator = compileSort(d(sort));
  return docs
    .map(doc => d(doc))
    .sort(comparator)
    .map(doc => (doc.get('_id') as { value: number }).value);
}

describe('sort', () => {
  it('orders mixed types as mongod does', () => {
    const values = [
      new MaxKey(),
      /x/,
      new Timestamp({ t: 1, i: 1 }),
      new Date(0),
      true,
      new ObjectId('000000000000000000000001'),
      new Binary(Buffer.from([1])),
      [],
      { a: 1 },
      'a',
      1,
      null,
      new MinKey()
    ];
    const docs = values.map((a, i) => ({ _id: i, a }));
    docs.push({ _id: 99 } as never);
    // The empty array sorts as undefined (below null); missing sorts as null.
    assert.deepEqual(order({ a: 1 }, docs), [12, 7, 11, 99, 10, 9, 8, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('ascending uses the smallest array element, descending the largest', () => {
    const docs = [
      { _id: 1, a: [5, 1] },
      { _id: 2, a: 3 },
      { _id: 3, a: [2, 9] }
    ];
    assert.deepEqual(order({ a: 1 }, docs), [1, 3, 2]);
    assert.deepEqual(order({ a: -1 }, docs), [3, 1, 2]);
  });

  it('sorts on dotted paths through arrays of documents, missing as null', () => {
    const docs = [
      { _id: 1, a: [{ b: 3 }, { b: 7 }] },
      { _id: 2, a: { b: 5 } },
      { _id: 3, a: [{ b: 4 }, { c: 1 }] },
      { _id: 4 }
    ];
    assert.deepEqual(order({ 'a.b': 1 }, docs), [3, 4, 1, 2]);
    assert.deepEqual(order({ 'a.b': -1 }, docs), [1, 2, 3, 4]);
  });

  it('compound keys, with ties kept in input order', () => {
    const docs = [
      { _id: 1, a: 1, b: 2 },
      { _id: 2, a: 0, b: 9 },
      { _id: 3, a: 1, b: 1 },
      { _id: 4, a: 1, b: 1 }
    ];
    assert.deepEqual(order({ a: 1, b: 1 }, docs), [2, 3, 4, 1]);
    assert.deepEqual(order({ a: -1, b: -1 }, docs), [1, 3, 4, 2]);
  });

  it('keys from one array stay together across sort fields', () => {
    const docs = [
      {
        _id: 1,
        a: [
          { b: 1, c: 1 },
          { b: 2, c: 5 }
        ]
      },
      { _id: 2, a: [{ b: 1, c: 3 }] }
    ];
    assert.deepEqual(order({ 'a.b': 1, 'a.c': -1 }, docs), [2, 1]);
  });

  it('numbers compare across types', () => {
    const docs = [
      { _id: 1, a: 2.5 },
      { _id: 2, a: 2 },
      { _id: 3, a: -1 }
    ];
    assert.deepEqual(order({ a: 1 }, docs), [3, 2, 1]);
  });

  it('sortKeyValue exposes the key of one path', () => {
    assert.deepEqual(sortKeyValue(d({ a: [3, 1, 2] }), 'a', 1), bv(1));
    assert.deepEqual(sortKeyValue(d({ a: [3, 1, 2] }), 'a', -1), bv(3));
    assert.equal(sortKeyValue(d({}), 'a', 1), null);
    assert.equal(sortKeyValue(d({ a: [] }), 'a', 1), undefined);
  });

  it('rejects bad sort specifications', () => {
    assert.equal(errorOf(() => compileSort(d({ a: 2 })))?.code, 15975);
    assert.equal(errorOf(() => compileSort(d({ a: 'x' })))?.code, 15974);
    assert.equal(errorOf(() => compileSort(d({ a: { $meta: 'textScore' } })))?.code, 238);
    assert.equal(errorOf(() => compileSort(d({ $natural: 1 })))?.code, 238);
    assert.equal(errorOf(() => compileSort(d({ 'a.$b': 1 })))?.code, 16410);
    const parallel = compileSort(d({ a: 1, b: 1 }));
    assert.equal(errorOf(() => parallel(d({ a: [1], b: [2] }), d({})))?.code, 2);
  });
});
