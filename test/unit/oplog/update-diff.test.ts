import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document, Int32 } from 'bson';

import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import { parseOplogEntry, type UpdateEntry } from '../../../src/oplog/oplog-entry.js';
import { diffToUpdate, updateOf, v1ToUpdate } from '../../../src/oplog/update-diff.js';
import { valuesIdentical } from '../../server/bson/values.js';
import { applyUpdate } from '../../server/engine/update/apply-update.js';
import { docString } from '../../server/engine/update/format.js';
import { applyDiffV2 } from '../../server/engine/update/oplog-diff.js';
import { fromBDoc, toBDoc, toBUpdate } from './bdoc.js';
import { raw, ts } from './entries.js';

/** Runs the translated update on the test server and checks it against the diff applier. */
function apply(doc: Document, diff: Document): Document {
  const pre = toBDoc(doc);
  const expected = applyDiffV2(pre, toBDoc(diff));
  const actual = applyUpdate(pre, toBUpdate(diffToUpdate(diff)), { now: new Date(0) });
  assert.ok(valuesIdentical(actual, expected), `${docString(actual)} != ${docString(expected)}`);
  return fromBDoc(actual);
}

const keys = (doc: Document): string[] => Object.keys(doc);

describe('diffToUpdate', () => {
  it('uses $set/$unset for top-level u (in byte order) and d', () => {
    assert.deepEqual(diffToUpdate({ d: { x: false }, u: { a: 1, b: 2 } }), {
      $set: { a: 1, b: 2 },
      $unset: { x: '' }
    });
    // An empty diff is refused, as mongod refuses it (see diff-applier.test.ts).
    assert.throws(() => diffToUpdate({}), /the diff is empty/);
  });

  it('uses a pipeline when $set would create missing u fields in another order', () => {
    const update = diffToUpdate({ u: { b: 1, a: 2 } });
    assert.ok(Array.isArray(update));
    const out = apply({ _id: 1 }, { u: { b: new Int32(1), a: new Int32(2) } });
    assert.deepEqual(keys(out), ['_id', 'b', 'a']);
  });

  it('i moves an existing field to the end', () => {
    const out = apply({ _id: 1, a: 1, b: 2 }, { i: { a: new Int32(1) } });
    assert.deepEqual(keys(out), ['_id', 'b', 'a']);
  });

  it('s on an absent field does nothing, on a wrong type sets null', () => {
    const diff = { sa: { u: { x: new Int32(1) } } };
    assert.deepEqual(keys(apply({ _id: 1, b: 1 }, diff)), ['_id', 'b']);
    assert.equal(apply({ _id: 1, a: 5 }, diff).a, null);
    assert.equal(apply({ _id: 1, a: [1] }, diff).a, null);
    assert.deepEqual(apply({ _id: 1, a: { y: 1 } }, diff).a, { y: new Int32(1), x: new Int32(1) });
  });

  it('array diffs: u pads with null, s past the end is null, l truncates and pads', () => {
    const one = new Int32(1);
    assert.deepEqual(apply({ _id: 1, a: [one] }, { sa: { a: true, u3: one } }).a, [
      one,
      null,
      null,
      one
    ]);
    assert.deepEqual(apply({ _id: 1, a: [one] }, { sa: { a: true, s2: { u: { x: one } } } }).a, [
      one,
      null,
      null
    ]);
    assert.deepEqual(apply({ _id: 1, a: [one, one, one] }, { sa: { a: true, l: 1 } }).a, [one]);
    assert.deepEqual(apply({ _id: 1, a: [] }, { sa: { a: true, l: 2 } }).a, [null, null]);
    assert.deepEqual(apply({ _id: 1, a: { x: 1 } }, { sa: { a: true, l: 2 } }).a, null);
  });

  it('handles field names with dots and a leading $ through $replaceWith', () => {
    const update = diffToUpdate({ u: { 'x.y': 1 } });
    assert.ok(Array.isArray(update) && '$replaceWith' in update[0]!);
    const out = apply({ _id: 1, 'x.y': 0 }, { u: { 'x.y': new Int32(1) }, sn: { i: { $z: 1 } } });
    assert.deepEqual(out['x.y'], new Int32(1));
  });

  it('rejects malformed diffs with the source named', () => {
    const source = { namespace: 'a.b', optime: ts(9) };
    const cases: [Document, RegExp][] = [
      [{ x: {} }, /unknown section "x"/],
      [{ u: { a: 1 }, d: { a: false } }, /field "a" appears in more than one section/],
      [{ u: 5 }, /section "u" is not a document/],
      [{ sa: { a: true, l: -1 } }, /"l" is not a non-negative integer/],
      [{ sa: { a: true, q1: 1 } }, /unknown array diff field "q1"/],
      [{ sa: { a: true, l: 1, u2: 1 } }, /index 2 is past the new length 1/]
    ];
    for (const [diff, message] of cases) {
      assert.throws(
        () => diffToUpdate(diff, source),
        (error: unknown) =>
          error instanceof UnsupportedOplogEntryError &&
          message.test(error.message) &&
          error.namespace === 'a.b' &&
          error.op === 'u' &&
          error.optime?.equals(ts(9)) === true
      );
    }
  });
});

describe('v1ToUpdate and updateOf', () => {
  it('strips $v and passes $set/$unset', () => {
    assert.deepEqual(v1ToUpdate({ $v: 1, $set: { a: 1 }, $unset: { b: true } }), {
      $set: { a: 1 },
      $unset: { b: true }
    });
    assert.throws(() => v1ToUpdate({ $inc: { a: 1 } }), /expected only \$set and \$unset/);
  });

  it('dispatches on the update kind', () => {
    const entry = (o: Document): UpdateEntry =>
      parseOplogEntry(raw({ op: 'u', ns: 'a.b', o, o2: { _id: 1 } })) as UpdateEntry;
    assert.deepEqual(updateOf(entry({ $v: 2, diff: { u: { a: 1 } } })), { $set: { a: 1 } });
    assert.deepEqual(updateOf(entry({ $v: 1, $set: { a: 1 } })), { $set: { a: 1 } });
    assert.deepEqual(updateOf(entry({ _id: 1, a: 1 })), { _id: 1, a: 1 });
    assert.throws(
      () => updateOf(entry({ $v: 2, diff: { z: 1 } })),
      (error: unknown) => error instanceof UnsupportedOplogEntryError && error.namespace === 'a.b'
    );
  });
});
