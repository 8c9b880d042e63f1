/**
 * applyDiffToDocument against the test server's diff application (mongod's rules), on random
 * documents and diffs, and the sections only it applies: binary diffs (`b`) and the sub-diff of
 * a field named "" (`s`). Set FC_SEED to replay a failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Binary, type Document } from 'bson';
import fc from 'fast-check';

import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import { applyDiffToDocument, needsPreImage } from '../../../src/oplog/diff-applier.js';
import { diffToUpdate, preImageUpdate } from '../../../src/oplog/update-diff.js';
import { type BDoc, valuesIdentical } from '../../server/bson/values.js';
import { docString } from '../../server/engine/update/format.js';
import { applyDiffV2 } from '../../server/engine/update/oplog-diff.js';
import { fromBDoc, toBDoc } from './bdoc.js';
import { arrayPrePost, diffsOf, prePost } from './random-docs.js';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FC_RUNS ?? 300);

function check(target: BDoc, diff: BDoc): void {
  const expected = applyDiffV2(target, diff);
  const actual = toBDoc(applyDiffToDocument(fromBDoc(target), fromBDoc(diff)));
  assert.ok(
    valuesIdentical(actual, expected),
    `target ${docString(target)}\n diff ${docString(diff)}\n got  ${docString(actual)}\n want ${docString(expected)}`
  );
}

describe(`applyDiffToDocument (seed ${seed})`, () => {
  it('matches mongod on the pre-image and on other versions of the document', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 4 }), (s, depth) => {
        const [pre, post, docs] = prePost(s, depth, { oddKeys: false, arrays: true });
        const others = [docs.mutateDoc(pre, depth), docs.mutateDoc(post, depth)];
        for (const diff of diffsOf(pre, post)) {
          for (const target of [pre, ...others]) check(target, diff);
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });

  it('matches mongod on array diffs', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 3 }), (s, depth) => {
        const [pre, post, docs] = arrayPrePost(s, depth);
        for (const diff of diffsOf(pre, post)) {
          for (const target of [pre, docs.mutateDoc(pre, depth)]) check(target, diff);
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });

  it('applies a binary diff: the bytes up to the offset, then the delta, same subtype', () => {
    const column = new Binary(Buffer.from([1, 2, 3, 4, 5]), 7);
    const diff = { sdata: { b: { temp: { o: 3, d: new Binary(Buffer.from([9, 9, 9])) } } } };
    assert.equal(needsPreImage(diff), true);
    const after = applyDiffToDocument({ _id: 1, data: { temp: column, other: 1 } }, diff);
    const temp = (after.data as Document).temp as Binary;
    assert.deepEqual([...temp.buffer.subarray(0, temp.position)], [1, 2, 3, 9, 9, 9]);
    assert.equal(temp.sub_type, 7);
    assert.deepEqual(Object.keys(after.data as Document), ['temp', 'other'], 'in place');
    // Another type (a replay over a later version): null, as for a sub-diff; absent stays absent.
    assert.equal((applyDiffToDocument({ data: { temp: 5 } }, diff).data as Document).temp, null);
    assert.deepEqual(applyDiffToDocument({ data: {} }, diff), { data: {} });
  });

  it('routes binary diffs away from update translation, with a clear error there', () => {
    const diff = { b: { col: { o: 0, d: new Binary(Buffer.from([1])) } } };
    assert.equal(preImageUpdate(diff).needsDocument, true);
    assert.throws(() => diffToUpdate(diff), UnsupportedOplogEntryError);
    assert.equal(needsPreImage({ u: { a: 1 }, sa: { u: { b: 2 } } }), false);
  });

  it('applies the sub-diff of a field named "" (its key is just "s")', () => {
    const diff = { s: { u: { x: 2 } } };
    assert.deepEqual(applyDiffToDocument({ _id: 1, '': { x: 1, y: 1 } }, diff), {
      _id: 1,
      '': { x: 2, y: 1 }
    });
    check(toBDoc({ _id: 1, '': { x: 1, y: 1 } }), toBDoc(diff));
    // The translated update gives the same result (checked on the engine by the property tests).
    assert.ok(diffToUpdate(diff));
  });

  it('refuses an empty diff, as mongod does', () => {
    assert.throws(
      () => diffToUpdate({}),
      (error: unknown) => {
        assert.ok(error instanceof UnsupportedOplogEntryError);
        assert.match(error.message, /empty/);
        return true;
      }
    );
    assert.throws(() => preImageUpdate({}), UnsupportedOplogEntryError);
  });
});
