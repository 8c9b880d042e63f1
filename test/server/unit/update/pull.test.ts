import { describe, it } from 'node:test';

import type { BDoc } from '../../bson/values.js';
import { applyUpdate } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW } from './fixtures.js';

const up = (doc: BDoc, update: BDoc): BDoc => applyUpdate(doc, update, { now: NOW });

describe('$pull', () => {
  it('by equality, including documents and numeric equivalence', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 2, 1.0, 3] }), d({ $pull: { a: 1 } })),
      d({ _id: 1, a: [2, 3] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [[1], [2]] }), d({ $pull: { a: [1] } })),
      d({ _id: 1, a: [[2]] })
    );
  });
  it('by condition on the element itself', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1, 5, 9] }), d({ $pull: { a: { $gte: 5 } } })),
      d({ _id: 1, a: [1] })
    );
    assertIdentical(
      up(d({ _id: 1, a: ['ab', 'cd'] }), d({ $pull: { a: { $in: ['cd', 'x'] } } })),
      d({ _id: 1, a: ['ab'] })
    );
  });
  it('by field conditions, matching embedded documents only', () => {
    assertIdentical(
      up(d({ _id: 1, a: [{ x: 1, y: 1 }, { x: 2 }, 7] }), d({ $pull: { a: { x: 1 } } })),
      d({ _id: 1, a: [{ x: 2 }, 7] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [{ x: 1 }, 7] }), d({ $pull: { a: {} } })),
      d({ _id: 1, a: [7] })
    );
  });
  it('no-op on missing fields, error on non-arrays', () => {
    assertIdentical(up(d({ _id: 1 }), d({ $pull: { a: 1 } })), d({ _id: 1 }));
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $pull: { a: 1 } })),
      2,
      'Cannot apply $pull to a non-array value'
    );
  });
});
