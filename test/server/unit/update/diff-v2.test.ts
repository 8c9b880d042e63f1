import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Int32 } from 'bson';
import fc from 'fast-check';

import type { BDoc } from '../../bson/values.js';
import { applyDiffV2, computeDiffV2 } from '../../engine/update/oplog-diff.js';
import { assertIdentical, assertServerError, d, pairs } from './fixtures.js';
import { prePost } from './random-docs.js';

const BIG = 'x'.repeat(100);
const diffOf = (pre: BDoc, post: BDoc): BDoc | undefined =>
  computeDiffV2(pre, post)?.get('diff') as BDoc | undefined;

describe('computeDiffV2', () => {
  it('logs in-place changes, inserts and deletes in d/u/i/s order', () => {
    const pre = d({ _id: 1, big: BIG, a: 1, b: 2, c: { x: 1, y: BIG } });
    const post = d({ _id: 1, big: BIG, a: 5, c: { x: 2, y: BIG }, n: 1 });
    const o = computeDiffV2(pre, post)!;
    assert.ok(o.get('$v') instanceof Int32 && (o.get('$v') as Int32).value === 2);
    assertIdentical(
      o.get('diff')!,
      pairs([
        ['d', d({ b: false })],
        ['u', d({ a: 5 })],
        ['i', d({ n: 1 })],
        ['sc', d({ u: { x: 2 } })]
      ])
    );
  });
  it('array sub-diffs: u<idx> for changes and appends, l only when truncating', () => {
    const pre = d({ _id: 1, big: BIG, arr: [1, 2, 3, BIG] });
    assertIdentical(
      diffOf(pre, d({ _id: 1, big: BIG, arr: [1, 9, 3, BIG, 4] }))!,
      d({ sarr: { a: true, u1: 9, u4: 4 } })
    );
    assertIdentical(
      diffOf(pre, d({ _id: 1, big: BIG, arr: [1, 2] }))!,
      pairs([
        [
          'sarr',
          pairs([
            ['a', true],
            ['l', 2]
          ])
        ]
      ])
    );
  });
  it('a moved field is re-inserted, a type change is an update', () => {
    const pre = d({ _id: 1, big: BIG, a: 1, b: 2 });
    assertIdentical(diffOf(pre, d({ _id: 1, big: BIG, b: 2, a: 1 }))!, d({ i: { a: 1 } }));
    assertIdentical(diffOf(pre, d({ _id: 1, big: BIG, a: 1.5, b: 2 }))!, d({ u: { a: 1.5 } }));
  });
  it('returns null when the diff is not smaller than the post-image', () => {
    assert.equal(computeDiffV2(d({ _id: 1, a: 1 }), d({ _id: 1, b: 2 })), null);
  });
  it('identical documents give an empty diff', () => {
    assertIdentical(
      computeDiffV2(d({ _id: 1 }), d({ _id: 1 }))!,
      pairs([
        ['$v', new Int32(2)],
        ['diff', new Map()]
      ])
    );
  });
});

describe('applyDiffV2', () => {
  it('applies every section', () => {
    const pre = d({ _id: 1, a: 1, b: 2, c: { x: 1 }, arr: [1, 2, 3], z: 0 });
    const diff = d({
      d: { b: false, missing: false },
      u: { a: 9, new1: 1 },
      i: { z: 0, new2: 2 },
      sc: { i: { y: 2 } },
      sarr: { a: true, l: 2, u5: 6 }
    });
    assertIdentical(
      applyDiffV2(pre, diff),
      d({
        _id: 1,
        a: 9,
        c: { x: 1, y: 2 },
        arr: [1, 2, null, null, null, 6],
        new1: 1,
        z: 0,
        new2: 2
      })
    );
  });
  it('sub-diffs of absent fields do nothing; of the wrong type set null', () => {
    assertIdentical(applyDiffV2(d({ _id: 1 }), d({ sa: { u: { x: 1 } } })), d({ _id: 1 }));
    assertIdentical(
      applyDiffV2(d({ _id: 1, a: [1] }), d({ sa: { u: { x: 1 } } })),
      d({ _id: 1, a: null })
    );
    assertIdentical(
      applyDiffV2(d({ _id: 1, a: { x: 1 } }), d({ sa: { a: true, u0: 1 } })),
      d({ _id: 1, a: null })
    );
    assertIdentical(
      applyDiffV2(d({ _id: 1, a: [] }), d({ sa: { a: true, s1: { u: { x: 1 } } } })),
      d({ _id: 1, a: [null, null] })
    );
  });
  it('a field in two sections is an error', () => {
    assertServerError(
      () => applyDiffV2(d({ a: 1 }), d({ u: { a: 2 }, i: { a: 3 } })),
      4728000,
      'duplicate field name in diff: a'
    );
  });
});

describe('diff property', () => {
  it('applyDiffV2(pre, computeDiffV2(pre, post)) reproduces post exactly', t => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`fast-check seed ${seed} (rerun with FC_SEED=${seed})`);
    let diffs = 0;
    fc.assert(
      fc.property(prePost, ([pre, post]) => {
        const o = computeDiffV2(pre, post);
        if (o === null) return;
        diffs++;
        assertIdentical(applyDiffV2(pre, o.get('diff') as BDoc), post);
      }),
      { seed, numRuns: 2000 }
    );
    assert.ok(diffs > 200, `only ${diffs} of 2000 cases produced a diff`);
  });
});
