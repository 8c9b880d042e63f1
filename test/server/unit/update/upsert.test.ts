import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ObjectId } from 'bson';

import type { BDoc } from '../../bson/values.js';
import { buildUpsertDocument } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW } from './fixtures.js';

const upsert = (query: BDoc, update: BDoc | BDoc[]): BDoc =>
  buildUpsertDocument(query, update, { now: NOW });

describe('buildUpsertDocument', () => {
  it('seeds equality fields (sorted, dotted paths nested, _id first) then applies the update', () => {
    assertIdentical(
      upsert(d({ z: 1, _id: 7, 'a.c': 2, 'a.b': 1, n: { $gt: 1 } }), d({ $set: { q: 1 } })),
      d({ _id: 7, a: { b: 1, c: 2 }, z: 1, q: 1 })
    );
    assertIdentical(
      upsert(
        d({ _id: 1, $and: [{ x: { $eq: 2 } }, { y: { $in: [3] } }], w: /re/ }),
        d({ $inc: { c: 1 } })
      ),
      d({ _id: 1, x: 2, y: 3, c: 1 })
    );
    assertIdentical(
      upsert(d({ _id: 1, a: null }), d({ $setOnInsert: { b: 1 } })),
      d({ _id: 1, a: null, b: 1 })
    );
  });
  it('generates an ObjectId _id first when the query pins none', () => {
    const out = upsert(d({ a: 1 }), d({ $set: { b: 1 } }));
    assert.deepEqual([...out.keys()], ['_id', 'a', 'b']);
    assert.ok(out.get('_id') instanceof ObjectId);
  });
  it('a replacement takes only _id from the query', () => {
    assertIdentical(upsert(d({ _id: 3, a: 1 }), d({ b: 2 })), d({ _id: 3, b: 2 }));
    assertServerError(() => upsert(d({ _id: 3 }), d({ _id: 4 })), 66);
  });
  it('query paths that cannot be combined', () => {
    assertServerError(
      () => upsert(d({ a: 1, 'a.b': 1 }), d({ $set: { c: 1 } })),
      54,
      "cannot infer query fields to set, both paths 'a.b' and 'a' are matched"
    );
    assertServerError(
      () => upsert(d({ a: 1, $and: [{ a: 1 }] }), d({ $set: { c: 1 } })),
      54,
      "cannot infer query fields to set, path 'a' is matched twice"
    );
  });
  it('the update may not change a seeded _id; creating through a seeded scalar fails', () => {
    assertServerError(() => upsert(d({ _id: 1 }), d({ $set: { _id: 2 } })), 66);
    assertServerError(
      () => upsert(d({ a: 1 }), d({ $set: { 'a.b': 2 } })),
      28,
      "Cannot create field 'b' in element {a: 1}"
    );
  });
});
