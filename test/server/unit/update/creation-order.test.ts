import { describe, it } from 'node:test';

import type { BDoc } from '../../bson/values.js';
import { applyUpdate } from '../../engine/update/apply-update.js';
import { assertIdentical, assertServerError, d, NOW, pairs } from './fixtures.js';

const up = (doc: BDoc, update: BDoc): BDoc => applyUpdate(doc, update, { now: NOW });

describe('field creation order', () => {
  it('creates new fields in lexicographic order whatever the update order', () => {
    assertIdentical(
      up(d({ _id: 1 }), d({ $set: { c: 1, a: 2, b: 3 } })),
      d({ _id: 1, a: 2, b: 3, c: 1 })
    );
    assertIdentical(
      up(d({ _id: 1 }), d({ $inc: { z: 1 }, $set: { y: 1 }, $push: { x: 1 } })),
      d({ _id: 1, x: [1], y: 1, z: 1 })
    );
  });
  it('orders by bytes: "10" before "9", uppercase before lowercase', () => {
    assertIdentical(
      up(d({ _id: 1 }), d({ $set: { '9': 1, '10': 1 } })),
      pairs([
        ['_id', 1],
        ['10', 1],
        ['9', 1]
      ])
    );
    assertIdentical(
      up(d({ _id: 1 }), d({ $set: { b: 1, B: 1, a: 1 } })),
      pairs([
        ['_id', 1],
        ['B', 1],
        ['a', 1],
        ['b', 1]
      ])
    );
  });
  it('modifies existing fields in place and appends new ones', () => {
    assertIdentical(
      up(d({ _id: 1, z: 1, m: 1 }), d({ $set: { a: 1, z: 2 } })),
      d({ _id: 1, z: 2, m: 1, a: 1 })
    );
  });
  it('creates embedded documents for missing parents, children sorted too', () => {
    assertIdentical(
      up(d({ _id: 1 }), d({ $set: { 'a.c': 1, 'a.b': 2, 'a.d.e': 3 } })),
      d({ _id: 1, a: { b: 2, c: 1, d: { e: 3 } } })
    );
    assertIdentical(
      up(d({ _id: 1, a: { z: 0 } }), d({ $set: { 'a.y': 1, 'a.x': 2 } })),
      d({ _id: 1, a: { z: 0, x: 2, y: 1 } })
    );
  });
  it('pads arrays with null for numeric components past the end', () => {
    assertIdentical(
      up(d({ _id: 1, a: [1] }), d({ $set: { 'a.3': 4 } })),
      d({ _id: 1, a: [1, null, null, 4] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [] }), d({ $set: { 'a.1.b': 4 } })),
      d({ _id: 1, a: [null, { b: 4 }] })
    );
    assertIdentical(
      up(d({ _id: 1, a: [1, 2] }), d({ $set: { 'a.2': 3, 'a.0': 0 } })),
      d({ _id: 1, a: [0, 2, 3] })
    );
  });
  it('a numeric component on a document is a field name', () => {
    assertIdentical(
      up(d({ _id: 1, a: {} }), d({ $set: { 'a.0': 1 } })),
      pairs([
        ['_id', 1],
        ['a', pairs([['0', 1]])]
      ])
    );
  });
  it('cannot create fields through scalars or named fields in arrays', () => {
    assertServerError(
      () => up(d({ _id: 1, a: 1 }), d({ $set: { 'a.b': 1 } })),
      28,
      "Cannot create field 'b' in element {a: 1}"
    );
    assertServerError(
      () => up(d({ _id: 1, a: [1] }), d({ $set: { 'a.b': 1 } })),
      28,
      "Cannot create field 'b' in element {a: [ 1 ]}"
    );
    assertServerError(
      () => up(d({ _id: 1, a: { b: 'x' } }), d({ $inc: { 'a.b.c': 1 } })),
      28,
      `Cannot create field 'c' in element {b: "x"}`
    );
  });
});
