import { describe, it } from 'node:test';

import type { BDoc } from '../../bson/values.js';
import { applyUpdate } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW } from './fixtures.js';

const up = (doc: BDoc, update: BDoc, arrayFilters: BDoc[]): BDoc =>
  applyUpdate(doc, update, { now: NOW, arrayFilters });

describe('$[ident] with arrayFilters', () => {
  it('updates the elements matching the filter', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 5, 2, 8] }), d({ $set: { 'a.$[x]': 0 } }), [d({ x: { $gt: 3 } })]),
      d({ _id: 1, a: [1, 0, 2, 0] })
    );
    assertIdentical(
      up(
        d({
          _id: 1,
          g: [
            { grade: 80, n: 1 },
            { grade: 90, n: 2 }
          ]
        }),
        d({ $inc: { 'g.$[e].n': 10 } }),
        [d({ 'e.grade': { $gte: 85 } })]
      ),
      d({
        _id: 1,
        g: [
          { grade: 80, n: 1 },
          { grade: 90, n: 12 }
        ]
      })
    );
  });
  it('nested identifiers', () => {
    assertIdentical(
      up(d({ _id: 1, a: [{ b: [1, 2] }, { b: [3] }] }), d({ $set: { 'a.$[i].b.$[j]': 0 } }), [
        d({ 'i.b': 3 }),
        d({ j: { $gte: 3 } })
      ]),
      d({ _id: 1, a: [{ b: [1, 2] }, { b: [0] }] })
    );
  });
  it('two filters matching one element conflict only when their updates do', () => {
    assertIdentical(
      up(d({ _id: 1, a: [{ v: 1 }] }), d({ $set: { 'a.$[x].p': 1, 'a.$[y].q': 2 } }), [
        d({ 'x.v': 1 }),
        d({ 'y.v': 1 })
      ]),
      d({ _id: 1, a: [{ v: 1, p: 1, q: 2 }] })
    );
    assertServerError(
      () =>
        up(d({ _id: 1, a: [1] }), d({ $set: { 'a.$[x]': 1, 'a.$[y]': 2 } }), [
          d({ x: 1 }),
          d({ y: 1 })
        ]),
      40,
      "Update created a conflict at 'a.0'"
    );
  });
  it('unknown, unused and malformed identifiers', () => {
    assertServerError(
      () => up(d({ _id: 1, a: [] }), d({ $set: { 'a.$[x]': 1 } }), []),
      2,
      "No array filter found for identifier 'x' in path 'a.$[x]'"
    );
    assertServerError(
      () => up(d({ _id: 1, a: [] }), d({ $set: { 'a.$[x]': 1 } }), [d({ x: 1 }), d({ y: 1 })]),
      9,
      "The array filter for identifier 'y' was not used in the update { $set: { a.$[x]: 1 } }"
    );
    assertServerError(
      () => up(d({ _id: 1, a: [] }), d({ $set: { 'a.$[x]': 1 } }), [d({ x: 1 }), d({ x: 2 })]),
      9,
      'Found multiple array filters with the same top-level field name x'
    );
    assertServerError(
      () => up(d({ _id: 1, a: [] }), d({ $set: { a: 1 } }), [d({})]),
      9,
      'Cannot use an expression without a top-level field name in arrayFilters'
    );
  });
});
