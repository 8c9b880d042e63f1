import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EJSON, Int32 } from 'bson';

import { type BDoc, type BValue } from '../../bson/values.js';
import { describeDiffV2, describeUpdateV1 } from '../../change-streams/update-description.js';

/** Builds a BDoc tree from a plain object (keys keep their written order). */
function d(value: Record<string, unknown>): BDoc {
  const out: BDoc = new Map();
  for (const [k, v] of Object.entries(value)) out.set(k, convert(v));
  return out;
}
function convert(v: unknown): BValue {
  if (typeof v === 'number') return new Int32(v);
  if (Array.isArray(v)) return v.map(convert);
  if (v && typeof v === 'object' && !(v instanceof Int32)) return d(v as Record<string, unknown>);
  return v as BValue;
}
const plain = (doc: BDoc) => EJSON.serialize(doc, { relaxed: true }) as unknown;

describe('updateDescription from $v: 2 diffs', () => {
  it('u and i fields, then d fields, then sub-diffs as dotted paths', () => {
    const diff = d({
      d: { gone: false },
      u: { a: 1 },
      i: { z: 2 },
      sb: { u: { c: 3 }, sd: { i: { e: 4 } } }
    });
    assert.deepEqual(plain(describeDiffV2(diff, { disambiguatedPaths: false })), {
      updatedFields: { a: 1, z: 2, 'b.c': 3, 'b.d.e': 4 },
      removedFields: ['gone'],
      truncatedArrays: []
    });
  });

  it('array diffs: l is a truncation, u<i>/s<i> are indexed paths', () => {
    const diff = d({ sarr: { a: true, l: 2, u1: 9, s0: { u: { x: 1 } } } });
    assert.deepEqual(plain(describeDiffV2(diff, { disambiguatedPaths: false })), {
      updatedFields: { 'arr.1': 9, 'arr.0.x': 1 },
      removedFields: [],
      truncatedArrays: [{ field: 'arr', newSize: 2 }]
    });
  });

  it('disambiguatedPaths lists dotted and numeric field names, not array indexes', () => {
    const diff = d({
      u: { 'a.b': 1, '0': 2 },
      sobj: { u: { '3': 5 } },
      sarr: { a: true, u2: 7 }
    });
    const description = describeDiffV2(diff, { disambiguatedPaths: true });
    assert.deepEqual(plain(description.get('disambiguatedPaths') as BDoc), {
      'a.b': ['a.b'],
      'obj.3': ['obj', '3']
    });
  });
});

describe('updateDescription from $v: 1 updates (4.4)', () => {
  it('$set values and $unset keys, no truncatedArrays', () => {
    const o = d({ $v: 1, $set: { 'a.b': 1, c: 2 }, $unset: { x: true } });
    assert.deepEqual(plain(describeUpdateV1(o)), {
      updatedFields: { 'a.b': 1, c: 2 },
      removedFields: ['x']
    });
  });
});
