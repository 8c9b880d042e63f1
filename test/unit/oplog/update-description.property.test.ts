/**
 * Property: for any document and any `$v: 2` diff mongod could log for it, the change event's
 * `updateDescription` (derived as mongod does, by the test server's describeDiffV2) converts back
 * into a diff that gives the same post-image as the original, both applied by a secondary's diff
 * applier and run as the update the applier sends to the target.
 *
 * One thing a description cannot carry: an `i` section moving an EXISTING field to the end. When
 * a diff does that, documents are compared without regard to field order (arrays stay ordered);
 * every other case must match exactly, types and field order included.
 * Set FC_SEED to replay a failure; the seed is printed with every failure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Timestamp } from 'bson';
import fc from 'fast-check';

import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import { toWriteModel } from '../../../src/oplog/crud-ops.js';
import { parseOplogEntry, type UpdateEntry } from '../../../src/oplog/oplog-entry.js';
import {
  hasAmbiguousPaths,
  updateDescriptionToDiff
} from '../../../src/oplog/update-description.js';
import { type BDoc, type BValue, valuesIdentical } from '../../server/bson/values.js';
import { describeDiffV2 } from '../../server/change-streams/update-description.js';
import { applyUpdate } from '../../server/engine/update/apply-update.js';
import { docString } from '../../server/engine/update/format.js';
import { applyDiffV2 } from '../../server/engine/update/oplog-diff.js';
import { prePost as numericKeyPrePost } from '../../server/unit/update/random-docs.js';
import { fromBDoc, toBDoc, toBUpdate } from './bdoc.js';
import { diffsOf, prePost } from './random-docs.js';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FC_RUNS ?? 300);
const now = new Date(0);

/** True if an `i` section of `diff` names a field that `target` already has (at that level). */
function movesExistingField(target: BValue | undefined, diff: BDoc): boolean {
  const subs = [...diff].filter(([key]) => key.length > 1 && key.startsWith('s'));
  if (diff.get('a') === true) {
    if (!Array.isArray(target)) return false;
    return subs.some(([key, sub]) => movesExistingField(target[Number(key.slice(1))], sub as BDoc));
  }
  if (!(target instanceof Map)) return false;
  const inserts = diff.get('i');
  if (inserts instanceof Map && [...inserts.keys()].some(field => target.has(field))) return true;
  return subs.some(([key, sub]) => movesExistingField(target.get(key.slice(1)), sub as BDoc));
}

/** The value with every document's fields sorted by name; arrays keep their order. */
function sortedFields(value: BValue): BValue {
  if (value instanceof Map) {
    return new Map(
      [...value]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortedFields(v)])
    );
  }
  return Array.isArray(value) ? value.map(sortedFields) : value;
}

function same(actual: BDoc, expected: BDoc, orderMatters: boolean): boolean {
  return orderMatters
    ? valuesIdentical(actual, expected)
    : valuesIdentical(sortedFields(actual), sortedFields(expected));
}

/**
 * Converts the description back and checks the result on `target`: through the diff applier,
 * and through the update that toWriteModel sends (run by the test server's update engine).
 */
function check(target: BDoc, diff: BDoc, description: BDoc, fieldOrderKept: boolean): void {
  const converted = updateDescriptionToDiff(fromBDoc(description), { namespace: 'db.c' });
  const expected = applyDiffV2(target, diff);
  const viaDiff = applyDiffV2(target, toBDoc(converted));
  const orderMatters = fieldOrderKept && !movesExistingField(target, diff);
  const report = (got: BDoc): string =>
    `target ${docString(target)}\n diff   ${docString(diff)}\n descr  ${docString(description)}\n back   ${JSON.stringify(converted)}\n got    ${docString(got)}\n want   ${docString(expected)}`;
  assert.ok(same(viaDiff, expected, orderMatters), report(viaDiff));

  const entry = parseOplogEntry({
    op: 'u',
    ns: 'db.c',
    o: { $v: 2, diff: converted },
    o2: { _id: fromBDoc(target)._id as unknown },
    ts: new Timestamp({ t: 1, i: 1 })
  }) as UpdateEntry;
  assert.equal(entry.kind, 'diff');
  const model = toWriteModel(entry);
  assert.ok('updateOne' in model);
  const viaUpdate = applyUpdate(target, toBUpdate(model.updateOne.update), { now });
  assert.ok(same(viaUpdate, expected, orderMatters), report(viaUpdate));
}

const cases = fc.tuple(fc.integer(), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.boolean());

describe(`updateDescriptionToDiff property (seed ${seed})`, () => {
  it('with disambiguatedPaths (6.1+): same post-image as the logged diff', () => {
    fc.assert(
      fc.property(cases, ([s, depth, oddKeys, arrays]) => {
        const [pre, post, docs] = prePost(s, depth, { oddKeys, arrays });
        // Catch-up: the target may hold another version of the document.
        const others = [docs.mutateDoc(pre, depth), docs.mutateDoc(post, depth)];
        for (const diff of diffsOf(pre, post)) {
          const description = describeDiffV2(diff, { disambiguatedPaths: true });
          for (const target of [pre, ...others]) check(target, diff, description, true);
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });

  it('without disambiguatedPaths (6.0): exact when unambiguous, refused otherwise', () => {
    let converted = 0;
    let refused = 0;
    fc.assert(
      // 6.0 cannot express field names with dots at all (documented in change-events.ts).
      fc.property(cases, ([s, depth, , arrays]) => {
        const [pre, post] = prePost(s, depth, { oddKeys: false, arrays });
        for (const diff of diffsOf(pre, post)) {
          const description = fromBDoc(describeDiffV2(diff, { disambiguatedPaths: false }));
          if (hasAmbiguousPaths(description)) {
            refused++;
            assert.throws(() => updateDescriptionToDiff(description), UnsupportedOplogEntryError);
          } else {
            converted++;
            check(pre, diff, describeDiffV2(diff, { disambiguatedPaths: false }), true);
          }
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
    // Both branches ran: the property is not vacuous.
    assert.ok(converted > 0 && refused > 0, `converted ${converted}, refused ${refused}`);
  });

  it('numeric field names next to array indexes resolve through disambiguatedPaths', () => {
    // Field names such as "0" and "10" under documents and arrays of documents: exactly the
    // paths 6.1+ disambiguates. Plain JS objects put integer-like keys first, so the diff's own
    // field order cannot survive the driver's document type; values, types and array order must.
    fc.assert(
      fc.property(numericKeyPrePost, ([pre, post]) => {
        for (const diff of diffsOf(pre, post)) {
          const description = describeDiffV2(diff, { disambiguatedPaths: true });
          check(pre, diff, description, false);
        }
      }),
      { seed, numRuns, includeErrorInReport: true }
    );
  });
});
