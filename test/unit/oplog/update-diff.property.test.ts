/**
 * Property: for any document and any diff, running the translated update on the test server's
 * update engine gives exactly (types and field order) what a secondary's diff application gives,
 * both on the diff's own pre-image and on another version of the document (catch-up).
 * Set FC_SEED to replay a failure; the seed is printed with every failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { diffToUpdate } from '../../../src/oplog/update-diff.js';
import { type BDoc, type BValue, valuesIdentical } from '../../server/bson/values.js';
import { applyUpdate } from '../../server/engine/update/apply-update.js';
import { docString } from '../../server/engine/update/format.js';
import { applyDiffV2 } from '../../server/engine/update/oplog-diff.js';
import { fromBDoc, toBUpdate } from './bdoc.js';
import { arrayPrePost, diffsOf, prePost } from './random-docs.js';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FC_RUNS ?? 400);
const now = new Date(0);

function check(target: BDoc, diff: BDoc): void {
  const expected = applyDiffV2(target, diff);
  const update = diffToUpdate(fromBDoc(diff));
  let actual: BDoc;
  try {
    actual = applyUpdate(target, toBUpdate(update), { now });
  } catch (error) {
    throw new Error(
      `update failed on ${docString(target)}\n diff ${docString(diff)}\n update ${JSON.stringify(update)}`,
      { cause: error }
    );
  }
  assert.ok(
    valuesIdentical(actual, expected),
    `target ${docString(target)}\n diff   ${docString(diff)}\n update ${JSON.stringify(update)}\n got    ${docString(actual)}\n want   ${docString(expected)}`
  );
}

const cases = fc.tuple(fc.integer(), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.boolean());

describe(`diffToUpdate property (seed ${seed})`, () => {
  it('matches applyDiffV2 on the pre-image', () => {
    fc.assert(
      fc.property(cases, ([s, depth, oddKeys, arrays]) => {
        const [pre, post] = prePost(s, depth, { oddKeys, arrays });
        for (const diff of diffsOf(pre, post)) check(pre, diff);
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });

  it('matches applyDiffV2 on another version of the document (catch-up)', () => {
    fc.assert(
      fc.property(cases, ([s, depth, oddKeys, arrays]) => {
        const [pre, post, docs] = prePost(s, depth, { oddKeys, arrays });
        // Another version: an edit of the pre-image, or of the post-image, or unrelated.
        const others = [
          docs.mutateDoc(pre, depth),
          docs.mutateDoc(post, depth),
          new Map([['_id', pre.get('_id')!], ...docs.doc(depth, true)])
        ];
        for (const diff of diffsOf(pre, post)) for (const other of others) check(other, diff);
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });

  it('matches applyDiffV2 for array diffs, on the pre-image and on other versions', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 3 }), (s, depth) => {
        const [pre, post, docs] = arrayPrePost(s, depth);
        const others = [
          docs.mutateDoc(pre, depth),
          new Map([...pre, ['arr', docs.mutateArray(pre.get('arr') as BValue[], depth)]]),
          new Map([...pre, ['arr', docs.value(depth)]])
        ];
        for (const diff of diffsOf(pre, post)) {
          for (const target of [pre, ...others]) check(target, diff);
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });
});
