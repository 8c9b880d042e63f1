import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { compileProjection } from '../../engine/aggregate/pipeline.js';
import { ServerError } from '../../engine/server-error.js';
import { d, plain } from './fixtures.js';

const doc = d({ _id: 1, a: [1, 2, 3, 4], b: 'x', c: [{ k: 1 }, { k: 2 }, { k: 3 }] });
const project = (spec: Record<string, unknown>, pos?: number, query?: Record<string, unknown>) =>
  plain(compileProjection(d(spec), 'find', query ? { query: d(query) } : {})(doc, pos));

describe('find projection', () => {
  it('supports $slice in exclusion and inclusion projections', () => {
    assert.deepEqual(project({ a: { $slice: 2 } }), {
      _id: '1i',
      a: ['1i', '2i'],
      b: 'x',
      c: plain(doc.get('c'))
    });
    assert.deepEqual(project({ b: 1, a: { $slice: -1 } }), { _id: '1i', a: ['4i'], b: 'x' });
    assert.deepEqual(project({ a: { $slice: [1, 2] }, _id: 0, b: 0, c: 0 }), { a: ['2i', '3i'] });
  });
  it('puts $elemMatch results after the other fields', () => {
    assert.deepEqual(project({ c: { $elemMatch: { k: { $gt: 1 } } }, b: 1 }), {
      _id: '1i',
      b: 'x',
      c: [{ k: '2i' }]
    });
    assert.deepEqual(project({ c: { $elemMatch: { k: 9 } } }), { _id: '1i' });
  });
  it('applies the positional operator from the match position', () => {
    assert.deepEqual(project({ 'a.$': 1 }, 2, { a: 3 }), { _id: '1i', a: ['3i'] });
    assert.throws(
      () => project({ 'a.$': 1 }, undefined, { a: 3 }),
      (e: unknown) => e instanceof ServerError && e.code === 51246
    );
  });
  it('does not wrap errors in find mode', () => {
    assert.throws(
      () => project({ a: 1, b: 0 }),
      (e: unknown) =>
        e instanceof ServerError && e.code === 31254 && !e.message.includes('$project')
    );
  });
  it('returns the document for an empty projection', () => {
    assert.deepEqual(project({}), plain(doc));
  });
});
