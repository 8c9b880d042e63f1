import { describe, it } from 'node:test';

import type { BDoc } from '../../bson/values.js';
import { applyUpdate } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW } from './fixtures.js';

const up = (doc: BDoc, pipeline: BDoc[], arrayFilters?: BDoc[]): BDoc =>
  applyUpdate(doc, pipeline, { now: NOW, ...(arrayFilters ? { arrayFilters } : {}) });

describe('pipeline-style updates', () => {
  it('runs the stages', () => {
    assertIdentical(
      up(d({ _id: 1, a: 1 }), [d({ $set: { b: { $add: ['$a', 1] } } })]),
      d({ _id: 1, a: 1, b: 2 })
    );
    assertIdentical(up(d({ _id: 1, a: 1 }), [d({ $unset: 'a' })]), d({ _id: 1 }));
  });
  it('keeps _id first and immutable', () => {
    assertIdentical(
      up(d({ _id: 1, a: 1 }), [d({ $replaceWith: { z: 1, _id: 1 } })]),
      d({ _id: 1, z: 1 })
    );
    assertServerError(
      () => up(d({ _id: 1 }), [d({ $set: { _id: 2 } })]),
      66,
      "After applying the update, the (immutable) field '_id' was found to have been altered to _id: 2"
    );
  });
  it('keeps the original _id when the pipeline drops it (pipeline_executor.cpp)', () => {
    assertIdentical(up(d({ _id: 1, a: 1 }), [d({ $unset: '_id' })]), d({ _id: 1, a: 1 }));
    assertIdentical(
      up(d({ _id: 1, t: { x: 2 } }), [d({ $replaceRoot: { newRoot: '$t' } })]),
      d({ _id: 1, x: 2 })
    );
  });
  it('refuses arrayFilters', () => {
    assertServerError(
      () => up(d({ _id: 1 }), [d({ $set: { a: 1 } })], [d({ x: 1 })]),
      9,
      'arrayFilters may not be specified for pipeline-syle updates'
    );
  });
});
