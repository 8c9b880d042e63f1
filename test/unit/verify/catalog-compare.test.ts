import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Double, Int32, Long } from 'mongodb';

import { compareIndexes, compareOptions } from '../../../src/verify/catalog-compare.js';

describe('compareOptions', () => {
  it('compares the options the catalog copier compares, with server defaults applied', () => {
    assert.deepEqual(
      compareOptions(
        { type: 'collection', options: { validationLevel: 'strict', validator: {} } },
        { type: 'collection', options: { uuid: 'ignored' } }
      ),
      { equal: true, differences: [] }
    );
    assert.deepEqual(
      compareOptions(
        { type: 'collection', options: { capped: true, size: new Int32(4096) } },
        { type: 'collection', options: { capped: true, size: new Long(4096) } }
      ),
      { equal: true, differences: [] },
      'numbers compare by value'
    );
    assert.deepEqual(
      compareOptions(
        { type: 'collection', options: { validator: { a: 1 } } },
        { type: 'timeseries', options: {} }
      ),
      { equal: false, differences: ['type', 'validator'] }
    );
  });

  it('compares view definitions', () => {
    const view = { viewOn: 'base', pipeline: [{ $match: { a: 1 } }] };
    assert.equal(
      compareOptions({ type: 'view', options: view }, { type: 'view', options: view }).equal,
      true
    );
    assert.deepEqual(
      compareOptions(
        { type: 'view', options: view },
        { type: 'view', options: { viewOn: 'other', pipeline: [] } }
      ).differences,
      ['viewOn', 'pipeline']
    );
  });

  it('says when one side lacks the namespace', () => {
    const shape = { type: 'collection', options: {} };
    assert.deepEqual(compareOptions(shape, undefined), { equal: false, differences: ['exists'] });
    assert.deepEqual(compareOptions(undefined, shape), { equal: false, differences: ['exists'] });
  });
});

describe('compareIndexes', () => {
  const id = { v: new Int32(2), key: { _id: new Int32(1) }, name: '_id_' };

  it('ignores what the copier does not copy, and the order servers list fields in', () => {
    const result = compareIndexes(
      {
        indexes: [
          id,
          { v: 2, key: { a: 1, b: -1 }, name: 'a_b', ns: 'src.c', background: true, unique: true }
        ],
        collation: undefined
      },
      {
        indexes: [{ unique: true, name: 'a_b', key: { a: new Double(1), b: -1 }, v: new Long(2) }],
        collation: undefined
      }
    );
    assert.deepEqual(result, { equal: true, missing: [], extra: [], different: [] });
  });

  it('reports missing, extra and different indexes by name', () => {
    const result = compareIndexes(
      {
        indexes: [
          id,
          { v: 2, key: { a: 1 }, name: 'a_1' },
          { v: 2, key: { b: 1 }, name: 'b_1', unique: true },
          { v: 2, key: { k: 1, j: 1 }, name: 'k' },
          { v: 2, key: { d: 1 }, name: 'd_1' }
        ],
        collation: undefined
      },
      {
        indexes: [
          { v: 2, key: { a: 1 }, name: 'a_1' },
          { v: 2, key: { b: 1 }, name: 'b_1' },
          { v: 2, key: { j: 1, k: 1 }, name: 'k' },
          { v: 2, key: { c: 1 }, name: 'c_1' }
        ],
        collation: undefined
      }
    );
    assert.deepEqual(result, {
      equal: false,
      missing: ['d_1'],
      extra: ['c_1'],
      different: ['b_1', 'k']
    });
  });

  it('normalises simple-collation indexes of a collection with a default collation', () => {
    const french = { locale: 'fr', strength: 2 };
    // The copier sends {locale: 'simple'}; the target then lists no collation, as the source does.
    assert.equal(
      compareIndexes(
        { indexes: [{ v: 2, key: { a: 1 }, name: 'a_1' }], collation: french },
        { indexes: [{ v: 2, key: { a: 1 }, name: 'a_1' }], collation: french }
      ).equal,
      true
    );
    assert.deepEqual(
      compareIndexes(
        { indexes: [{ v: 2, key: { a: 1 }, name: 'a_1' }], collation: french },
        { indexes: [{ v: 2, key: { a: 1 }, name: 'a_1' }], collation: undefined }
      ).different,
      ['a_1']
    );
  });

  it('counts every index as missing or extra when one side lacks the collection', () => {
    const indexes = [id, { v: 2, key: { x: 1 }, name: 'x_1' }];
    assert.deepEqual(compareIndexes({ indexes, collation: undefined }, undefined).missing, ['x_1']);
    assert.deepEqual(compareIndexes(undefined, { indexes, collation: undefined }).extra, ['x_1']);
  });
});
