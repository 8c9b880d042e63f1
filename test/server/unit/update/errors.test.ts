import { describe, it } from 'node:test';

import type { BDoc } from '../../bson/values.js';
import { applyUpdate } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW } from './fixtures.js';

const up = (doc: BDoc, update: BDoc | BDoc[]): BDoc => applyUpdate(doc, update, { now: NOW });
const DOC = d({ _id: 1, a: { b: 1 } });

describe('update parse errors', () => {
  it('conflicting paths', () => {
    assertServerError(
      () => up(DOC, d({ $set: { a: 1 }, $inc: { 'a.b': 1 } })),
      40,
      "Updating the path 'a.b' would create a conflict at 'a'"
    );
    assertServerError(
      () => up(DOC, d({ $set: { 'a.b': 1 }, $inc: { a: 1 } })),
      40,
      "Updating the path 'a' would create a conflict at 'a'"
    );
    assertServerError(
      () => up(DOC, d({ $set: { 'a.b': 1 }, $unset: { 'a.b': 1 } })),
      40,
      "Updating the path 'a.b' would create a conflict at 'a.b'"
    );
    assertServerError(
      () => up(DOC, d({ $set: { 'a.$[]': 1, 'a.0': 1 } })),
      40,
      "Updating the path 'a.0' would create a conflict at 'a'"
    );
  });
  it('unknown and malformed modifiers', () => {
    assertServerError(
      () => up(DOC, d({ $foo: { a: 1 } })),
      9,
      'Unknown modifier: $foo. Expected a valid update modifier or pipeline-style update specified as an array'
    );
    assertServerError(() => up(DOC, d({ $set: { x: 1 }, a: 1 })), 9, /^Unknown modifier: a\./);
    assertServerError(
      () => up(DOC, d({ $set: 1 })),
      9,
      'Modifiers operate on fields but we found type int instead. For example: {$mod: {<field>: ...}} not {$set: 1}'
    );
  });
  it('empty path components', () => {
    assertServerError(
      () => up(DOC, d({ $set: { 'a..b': 1 } })),
      56,
      "The update path 'a..b' contains an empty field name, which is not allowed."
    );
    assertServerError(
      () => up(DOC, d({ $set: { '': 1 } })),
      56,
      'An empty update path is not valid.'
    );
  });
  it('positional parse errors', () => {
    assertServerError(
      () => up(DOC, d({ $set: { '$.a': 1 } })),
      2,
      "Cannot have positional (i.e. '$') element in the first position in path '$.a'"
    );
    assertServerError(
      () => up(DOC, d({ $set: { 'a.$.b.$': 1 } })),
      2,
      "Too many positional (i.e. '$') elements found in path 'a.$.b.$'"
    );
  });
});

describe('immutable _id', () => {
  it('modifiers may not change _id', () => {
    assertServerError(
      () => up(DOC, d({ $set: { _id: 2 } })),
      66,
      "Performing an update on the path '_id' would modify the immutable field '_id'"
    );
    assertServerError(
      () => up(DOC, d({ $unset: { _id: 1 } })),
      66,
      "Performing an update on the path '_id' would modify the immutable field '_id'"
    );
    assertServerError(() => up(DOC, d({ $rename: { _id: 'x' } })), 66);
    assertServerError(
      () => up(d({ _id: { x: 1 } }), d({ $inc: { '_id.x': 1 } })),
      66,
      "Performing an update on the path '_id.x' would modify the immutable field '_id'"
    );
    assertServerError(
      () => up(d({ _id: { x: 1 } }), d({ $set: { '_id.y': 1 } })),
      66,
      "Updating the path '_id' to _id: { x: 1, y: 1 } would modify the immutable field '_id'"
    );
  });
  it('setting _id to the same value is a no-op', () => {
    assertIdentical(up(DOC, d({ $set: { _id: 1 } })), DOC);
  });
});

describe('replacement', () => {
  it('keeps _id first from the old document', () => {
    assertIdentical(up(d({ _id: 1, a: 1 }), d({ b: 2 })), d({ _id: 1, b: 2 }));
    assertIdentical(up(d({ _id: 1, a: 1 }), d({ b: 2, _id: 1 })), d({ _id: 1, b: 2 }));
    assertIdentical(up(d({ _id: 1, a: 1 }), d({})), d({ _id: 1 }));
  });
  it('may not change _id or hold top-level $ fields', () => {
    assertServerError(
      () => up(d({ _id: 1 }), d({ _id: 2, a: 1 })),
      66,
      "After applying the update, the (immutable) field '_id' was found to have been altered to _id: 2"
    );
    assertServerError(
      () => up(d({ _id: 1 }), d({ a: 1, $set: { b: 1 } })),
      52,
      "The dollar ($) prefixed field '$set' in '$set' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith."
    );
  });
  it('_id may not become an array', () => {
    assertServerError(
      () => up(d({ a: 1 }), d({ $set: { _id: [1] } })),
      53,
      "The '_id' value cannot be of type array"
    );
  });
});
