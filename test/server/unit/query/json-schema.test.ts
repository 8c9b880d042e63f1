/**
 * `$jsonSchema` matching, keyword by keyword, as mongod's jstests/core/json_schema/*.js and
 * json_schema_parser.cpp define it (restriction keywords only constrain values of their type,
 * `items`/`additionalItems`, `patternProperties`, `dependencies`, the logical keywords, `enum`
 * without regard to field order, `multipleOf` in decimal arithmetic).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Decimal128, Double, Long } from 'bson';

import { ids, match } from './fixtures.js';

const schema = (s: Record<string, unknown>) => ({ $jsonSchema: s });

describe('$jsonSchema types', () => {
  it('bsonType takes every alias, "number" and lists; type takes JSON types', () => {
    const docs = [
      { _id: 1, a: 1 },
      { _id: 2, a: 1.5 },
      { _id: 3, a: new Long(3) },
      { _id: 4, a: new Decimal128('4') },
      { _id: 5, a: 'x' },
      { _id: 6, a: true },
      { _id: 7, a: null },
      { _id: 8, a: [1] },
      { _id: 9, a: { b: 1 } },
      { _id: 10 }
    ];
    const of = (s: Record<string, unknown>) => ids(schema({ properties: { a: s } }), docs);
    assert.deepEqual(of({ bsonType: 'int' }), [1, 10]);
    assert.deepEqual(of({ bsonType: 'number' }), [1, 2, 3, 4, 10]);
    assert.deepEqual(of({ bsonType: ['long', 'decimal'] }), [3, 4, 10]);
    assert.deepEqual(of({ bsonType: ['bool', 'null'] }), [6, 7, 10]);
    assert.deepEqual(of({ type: 'boolean' }), [6, 10]);
    assert.deepEqual(of({ type: 'number' }), [1, 2, 3, 4, 10]);
    assert.deepEqual(of({ type: ['array', 'object'] }), [8, 9, 10]);
    // No implicit array traversal: an array of numbers is not a number.
    assert.deepEqual(of({ bsonType: 'int', minimum: 0 }), [1, 10]);
  });

  it('a top-level type must allow object, and required properties must exist', () => {
    assert.equal(match(schema({ bsonType: ['object', 'string'] }), { a: 1 }), true);
    assert.equal(match(schema({ type: 'array' }), { a: 1 }), false);
    assert.equal(match(schema({ required: ['a', 'b'] }), { a: 1 }), false);
    assert.equal(match(schema({ required: ['a', 'b'] }), { a: 1, b: null }), true);
    const nested = schema({ properties: { o: { required: ['x'] } } });
    assert.equal(match(nested, { o: { y: 1 } }), false);
    assert.equal(match(nested, { o: 'not an object' }), true);
    assert.equal(match(nested, {}), true);
  });
});

describe('$jsonSchema scalar keywords', () => {
  it('minimum/maximum with exclusive flags apply to numbers only', () => {
    const s = schema({ properties: { a: { minimum: 1, exclusiveMinimum: true, maximum: 3 } } });
    assert.equal(match(s, { a: 1 }), false);
    assert.equal(match(s, { a: 1.5 }), true);
    assert.equal(match(s, { a: 3 }), true);
    assert.equal(match(s, { a: new Long(4) }), false);
    assert.equal(match(s, { a: 'x' }), true);
  });

  it('minLength/maxLength count code points; pattern is an unanchored regex', () => {
    const s = schema({ properties: { a: { minLength: 2, maxLength: 3 } } });
    assert.equal(match(s, { a: 'é😀' }), true);
    assert.equal(match(s, { a: 'a' }), false);
    assert.equal(match(s, { a: 'abcd' }), false);
    assert.equal(match(schema({ properties: { a: { pattern: 'b+' } } }), { a: 'abbc' }), true);
    assert.equal(match(schema({ properties: { a: { pattern: '^b' } } }), { a: 'abbc' }), false);
  });

  it('multipleOf computes in decimal, as mongod converts doubles to 15 digits', () => {
    const s = (d: unknown) => schema({ properties: { a: { multipleOf: d } } });
    assert.equal(match(s(new Double(0.1)), { a: new Double(0.3) }), true);
    assert.equal(match(s(2), { a: new Long(10) }), true);
    assert.equal(match(s(2), { a: 7 }), false);
    assert.equal(match(s(new Decimal128('0.25')), { a: new Decimal128('1.75') }), true);
    assert.equal(match(s(new Double(2.1)), { a: new Double(1.1) }), false);
  });
});

describe('$jsonSchema array keywords', () => {
  it('items as one schema or per position, additionalItems after the positions', () => {
    const one = schema({ properties: { a: { items: { bsonType: 'int' } } } });
    assert.equal(match(one, { a: [1, 2] }), true);
    assert.equal(match(one, { a: [1, 'x'] }), false);
    assert.equal(match(one, { a: 'not an array' }), true);
    const tuple = schema({
      properties: {
        a: { items: [{ bsonType: 'int' }, { bsonType: 'string' }], additionalItems: false }
      }
    });
    assert.equal(match(tuple, { a: [1] }), true);
    assert.equal(match(tuple, { a: [1, 's'] }), true);
    assert.equal(match(tuple, { a: [1, 's', 2] }), false);
    assert.equal(match(tuple, { a: ['s'] }), false);
    const extra = schema({
      properties: { a: { items: [{}], additionalItems: { bsonType: 'bool' } } }
    });
    assert.equal(match(extra, { a: [1, true, false] }), true);
    assert.equal(match(extra, { a: [1, true, 0] }), false);
    // additionalItems means nothing without an array of items.
    assert.equal(
      match(schema({ properties: { a: { additionalItems: false } } }), { a: [1] }),
      true
    );
  });

  it('minItems, maxItems and uniqueItems (objects compared without field order)', () => {
    const s = schema({ properties: { a: { minItems: 1, maxItems: 2, uniqueItems: true } } });
    assert.equal(match(s, { a: [] }), false);
    assert.equal(match(s, { a: [1, 2, 3] }), false);
    assert.equal(match(s, { a: [1, new Double(1)] }), false);
    assert.equal(
      match(s, {
        a: [
          { x: 1, y: 2 },
          { y: 2, x: 1 }
        ]
      }),
      false
    );
    assert.equal(
      match(s, {
        a: [
          [1, 2],
          [2, 1]
        ]
      }),
      true
    );
  });
});

describe('$jsonSchema object keywords', () => {
  it('additionalProperties false or a schema, with patternProperties', () => {
    const closed = schema({ properties: { _id: {}, a: {} }, additionalProperties: false });
    assert.equal(match(closed, { _id: 1, a: 1 }), true);
    assert.equal(match(closed, { _id: 1, b: 1 }), false);
    const patterned = schema({
      patternProperties: { '^s_': { bsonType: 'string' }, n$: { bsonType: 'int' } },
      additionalProperties: { bsonType: 'bool' }
    });
    assert.equal(match(patterned, { s_x: 'a', cn: 1, flag: true }), true);
    assert.equal(match(patterned, { s_x: 1 }), false);
    assert.equal(match(patterned, { s_n: 'a' }), false, 'every matching pattern applies');
    assert.equal(match(patterned, { other: 1 }), false);
  });

  it('minProperties and maxProperties count the (sub)document fields, _id included', () => {
    assert.equal(match(schema({ maxProperties: 1 }), { _id: 1, a: 1 }), false);
    assert.equal(
      match(schema({ properties: { o: { minProperties: 2 } } }), { o: { a: 1 } }),
      false
    );
  });

  it('dependencies on properties and on schemas', () => {
    const s = schema({ dependencies: { card: ['cvv', 'exp'], vip: { required: ['since'] } } });
    assert.equal(match(s, { card: 1, cvv: 1, exp: 1 }), true);
    assert.equal(match(s, { card: 1, cvv: 1 }), false);
    assert.equal(match(s, { cvv: 1 }), true);
    assert.equal(match(s, { vip: true }), false);
    assert.equal(match(s, { vip: true, since: 2020 }), true);
  });
});

describe('$jsonSchema logical keywords and enum', () => {
  it('allOf, anyOf, oneOf and not', () => {
    const a = (s: Record<string, unknown>) => schema({ properties: { a: s } });
    assert.equal(match(a({ allOf: [{ minimum: 1 }, { maximum: 3 }] }), { a: 4 }), false);
    assert.equal(match(a({ anyOf: [{ type: 'string' }, { maximum: 3 }] }), { a: 4 }), false);
    assert.equal(match(a({ anyOf: [{ type: 'string' }, { maximum: 3 }] }), { a: 'x' }), true);
    assert.equal(match(a({ oneOf: [{ minimum: 1 }, { maximum: 3 }] }), { a: 2 }), false);
    assert.equal(match(a({ oneOf: [{ minimum: 1 }, { maximum: 3 }] }), { a: 4 }), true);
    assert.equal(match(a({ not: { type: 'string' } }), { a: 'x' }), false);
  });

  it('enum compares objects without field order; at the top level only objects count', () => {
    const s = schema({ properties: { a: { enum: [1, 'x', { p: 1, q: 2 }] } } });
    assert.equal(match(s, { a: new Double(1) }), true);
    assert.equal(match(s, { a: { q: 2, p: 1 } }), true);
    assert.equal(match(s, { a: [1] }), false);
    assert.equal(match(schema({ enum: [{ _id: 1, a: 1 }] }), { a: 1, _id: 1 }), true);
    assert.equal(match(schema({ enum: [1, 'x'] }), { _id: 1 }), false);
  });

  it('combines with query operators in the same filter', () => {
    const docs = [
      { _id: 1, a: 1, b: 1 },
      { _id: 2, a: 2, b: 2 }
    ];
    assert.deepEqual(
      ids({ $jsonSchema: { properties: { a: { type: 'number' } } }, b: 1 }, docs),
      [1]
    );
    assert.deepEqual(ids({ $or: [{ $jsonSchema: {}, a: 1 }, { b: 1 }] }, docs), [1]);
    assert.deepEqual(ids({ a: { $elemMatch: { $jsonSchema: {} } } }, [{ _id: 1, a: [{}] }]), [1]);
  });
});
