/**
 * Property: the operator form of a diff (`preImageUpdate`) gives exactly what a secondary's diff
 * application gives on the diff's own pre-image; on another version of the document it gives the
 * same whenever every sub-diffed field is a document there, and otherwise it either succeeds or
 * fails with PathNotViable (28), the error the applier answers with the exact form.
 * Set FC_SEED to replay a failure; the seed is printed with every failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { preImageUpdate } from '../../../src/oplog/update-diff.js';
import { type BDoc, isDoc, valuesIdentical } from '../../server/bson/values.js';
import { ServerError } from '../../server/engine/server-error.js';
import { applyUpdate } from '../../server/engine/update/apply-update.js';
import { docString } from '../../server/engine/update/format.js';
import { applyDiffV2 } from '../../server/engine/update/oplog-diff.js';
import { fromBDoc, toBUpdate } from './bdoc.js';
import { diffsOf, prePost, type RandomDocs } from './random-docs.js';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FC_RUNS ?? 400);
const now = new Date(0);

/** True when every `s<field>` of the diff names a document (not an array) in `doc`, at every level. */
function subDiffedFieldsAreDocuments(doc: BDoc, diff: BDoc): boolean {
  for (const [key, sub] of diff) {
    if (!key.startsWith('s') || !isDoc(sub)) continue;
    const value = doc.get(key.slice(1));
    if (!isDoc(value) || !subDiffedFieldsAreDocuments(value, sub)) return false;
  }
  return true;
}

/** Applies the operator form of `diff` to `target`; undefined when the diff has none. */
function applyOperatorForm(target: BDoc, diff: BDoc): BDoc | ServerError | undefined {
  const translated = preImageUpdate(fromBDoc(diff));
  if (translated.needsDocument === true || !translated.preImageForm) return undefined;
  const { update } = translated;
  try {
    return applyUpdate(target, toBUpdate(update), { now });
  } catch (error) {
    if (error instanceof ServerError) return error;
    throw error;
  }
}

const cases = fc.tuple(fc.integer(), fc.integer({ min: 1, max: 4 }), fc.boolean());

/**
 * An application's typical update of `doc`: values of existing fields changed in place (`$set`,
 * `$inc`) or removed (`$unset`), at any depth, so the diff holds `u`/`d` sections and document
 * sub-diffs (random edits almost always add fields, giving `i` sections, which keep the exact form).
 */
function editInPlace(doc: BDoc, docs: RandomDocs): BDoc {
  const out: BDoc = new Map();
  for (const [key, value] of doc) {
    const r = docs.rng();
    if (key === '_id' || r < 0.4) out.set(key, value);
    else if (isDoc(value) && r < 0.8) out.set(key, editInPlace(value, docs));
    else if (r < 0.9) out.set(key, docs.scalar());
  }
  return out;
}

describe(`preImageUpdate property (seed ${seed})`, () => {
  it('matches applyDiffV2 on the pre-image, including diffs with document sub-diffs', () => {
    let withSubDiffs = 0;
    fc.assert(
      fc.property(cases, ([s, depth, oddKeys]) => {
        const [pre, post, docs] = prePost(s, depth, { oddKeys, arrays: false });
        for (const diff of [...diffsOf(pre, post), ...diffsOf(pre, editInPlace(pre, docs))]) {
          const actual = applyOperatorForm(pre, diff);
          if (actual === undefined) continue;
          if ([...diff.keys()].some(key => key.startsWith('s'))) withSubDiffs++;
          const expected = applyDiffV2(pre, diff);
          assert.ok(
            !(actual instanceof ServerError) && valuesIdentical(actual, expected),
            `pre  ${docString(pre)}\n diff ${docString(diff)}\n got  ${actual instanceof ServerError ? actual.message : docString(actual)}\n want ${docString(expected)}`
          );
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
    // The operator form must actually be used for sub-diffs, or this property tests nothing.
    assert.ok(withSubDiffs >= 5, `only ${withSubDiffs} diffs with sub-diffs were covered`);
  });

  it('on another version: exact where the sub-diffed fields are documents, else at worst PathNotViable', () => {
    fc.assert(
      fc.property(cases, ([s, depth, oddKeys]) => {
        const [pre, post, docs] = prePost(s, depth, { oddKeys, arrays: false });
        const others = [
          docs.mutateDoc(pre, depth),
          docs.mutateDoc(post, depth),
          new Map([['_id', pre.get('_id')!], ...docs.doc(depth, true)])
        ];
        for (const diff of [...diffsOf(pre, post), ...diffsOf(pre, editInPlace(pre, docs))]) {
          for (const other of others) {
            const actual = applyOperatorForm(other, diff);
            if (actual === undefined) continue;
            const context = `target ${docString(other)}\n diff ${docString(diff)}`;
            if (actual instanceof ServerError) {
              assert.equal(actual.code, 28, `${context}\n failed with ${actual.message}`);
              assert.ok(!subDiffedFieldsAreDocuments(other, diff), `${context}\n failed`);
            } else if (subDiffedFieldsAreDocuments(other, diff)) {
              const expected = applyDiffV2(other, diff);
              assert.ok(
                valuesIdentical(actual, expected),
                `${context}\n got  ${docString(actual)}\n want ${docString(expected)}`
              );
            }
          }
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });
});
