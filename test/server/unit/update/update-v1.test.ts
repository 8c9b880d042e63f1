import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Int32 } from 'bson';
import fc from 'fast-check';

import { type BDoc, valuesIdentical } from '../../bson/values.js';
import { applyUpdate } from '../../engine/update/apply-update.js';
import { computeUpdateV1 } from '../../engine/update/oplog-diff.js';
import { assertIdentical, d, NOW, pairs } from './fixtures.js';
import { prePost } from './random-docs.js';

describe('computeUpdateV1', () => {
  it('sets changed and new fields, unsets removed ones', () => {
    const o = computeUpdateV1(
      d({ _id: 1, a: 1, b: { c: 1, d: 2 }, e: 1 }),
      d({ _id: 1, a: 2, b: { c: 1, d: 3 }, f: 1 })
    )!;
    assertIdentical(
      o,
      pairs([
        ['$v', new Int32(1)],
        ['$set', d({ a: 2, 'b.d': 3, f: 1 })],
        ['$unset', d({ e: true })]
      ])
    );
  });
  it('sets whole values when dotted paths cannot reproduce the order', () => {
    const o = computeUpdateV1(d({ _id: 1, b: { x: 1, y: 1 } }), d({ _id: 1, b: { y: 1, x: 2 } }))!;
    assertIdentical(
      o,
      pairs([
        ['$v', new Int32(1)],
        ['$set', d({ b: { y: 1, x: 2 } })]
      ])
    );
  });
  it('returns null when the top level cannot be reproduced', () => {
    assert.equal(computeUpdateV1(d({ _id: 1, a: 1, b: 1 }), d({ _id: 1, b: 1, a: 1 })), null);
    assert.equal(computeUpdateV1(d({ _id: 1 }), d({ _id: 1, z: 1, a: 1 })), null);
  });
  it('property: a non-null entry replays to the post-image', t => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`fast-check seed ${seed} (rerun with FC_SEED=${seed})`);
    fc.assert(
      fc.property(prePost, ([pre, post]) => {
        const o = computeUpdateV1(pre, post);
        if (o === null) return;
        const update: BDoc = new Map([...o].filter(([k]) => k !== '$v'));
        if (update.size === 0) return assert.ok(valuesIdentical(pre, post));
        assertIdentical(applyUpdate(pre, update, { now: NOW }), post);
      }),
      { seed, numRuns: 1000 }
    );
  });
});
