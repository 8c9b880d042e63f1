import { describe, it } from 'node:test';

import type { BDoc } from '../../bson/values.js';
import { applyUpdate, type UpdateContext } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW } from './fixtures.js';

const up = (doc: BDoc, update: BDoc, ctx: Partial<UpdateContext> = {}): BDoc =>
  applyUpdate(doc, update, { now: NOW, ...ctx });

describe('positional $', () => {
  it('updates the matched element', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 2, 3] }), d({ $set: { 'a.$': 9 } }), { matchPosition: 1 }),
      d({ _id: 1, a: [1, 9, 3] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [{ b: 1 }, { b: 2 }] }), d({ $inc: { 'a.$.b': 10 } }), {
        matchPosition: 1
      }),
      d({ _id: 1, a: [{ b: 1 }, { b: 12 }] })
    );
  });
  it('merges with an explicit index on the same element', () => {
    assertIdentical(
      up(d({ _id: 1, a: [{ b: 1 }, { b: 2 }] }), d({ $set: { 'a.$.c': 1, 'a.1.d': 2 } }), {
        matchPosition: 1
      }),
      d({ _id: 1, a: [{ b: 1 }, { b: 2, c: 1, d: 2 }] })
    );
    assertServerError(
      () => up(d({ _id: 1, a: [1, 2] }), d({ $set: { 'a.$': 1, 'a.1': 2 } }), { matchPosition: 1 }),
      40,
      "Update created a conflict at 'a.1'"
    );
  });
  it('needs a match from the query', () => {
    assertServerError(
      () => up(d({ _id: 1, a: [1] }), d({ $set: { 'a.$': 1 } })),
      2,
      'The positional operator did not find the match needed from the query.'
    );
  });
});

describe('all positional $[]', () => {
  it('updates every element', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 2] }), d({ $inc: { 'a.$[]': 1 } })),
      d({ _id: 1, a: [2, 3] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [{ b: [1] }, { b: [2, 3] }] }), d({ $set: { 'a.$[].b.$[]': 0 } })),
      d({ _id: 1, a: [{ b: [0] }, { b: [0, 0] }] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [{}, { c: 1 }] }), d({ $set: { 'a.$[].c': 5 } })),
      d({ _id: 1, a: [{ c: 5 }, { c: 5 }] })
    );
  });
  it('requires an existing array', () => {
    assertServerError(
      () => up(d({ _id: 1 }), d({ $set: { 'a.$[]': 1 } })),
      2,
      "The path 'a' must exist in the document in order to apply array updates."
    );
    assertServerError(
      () => up(d({ _id: 1, a: 5 }), d({ $set: { 'a.$[]': 1 } })),
      2,
      'Cannot apply array updates to non-array element a: 5'
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ $set: { '$[].a': 1 } })),
      2,
      "Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '$[].a'"
    );
  });
});
