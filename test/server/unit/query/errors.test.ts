import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { compileFilter } from '../../engine/query/matcher.js';
import { d, errorOf } from './fixtures.js';

function parseError(filter: Record<string, unknown>) {
  return errorOf(() => compileFilter(d(filter)));
}

describe('query parse errors', () => {
  it('rejects unknown operators with code 2', () => {
    assert.deepEqual(parseError({ $foo: 1 }), {
      code: 2,
      message:
        "unknown top level operator: $foo. If you have a field name that starts with a '$' symbol, consider using $getField or $setField."
    });
    assert.deepEqual(parseError({ a: { $foo: 1 } }), {
      code: 2,
      message: 'unknown operator: $foo'
    });
    assert.deepEqual(parseError({ a: { $gt: 1, b: 1 } }), {
      code: 2,
      message: 'unknown operator: b'
    });
    assert.deepEqual(parseError({ a: { $not: { b: 1 } } }), {
      code: 2,
      message: 'unknown operator: b'
    });
  });

  it('validates logical operators', () => {
    const nonempty = { code: 2, message: '$and/$or/$nor must be a nonempty array' };
    assert.deepEqual(parseError({ $and: [] }), nonempty);
    assert.deepEqual(parseError({ $or: [] }), nonempty);
    assert.deepEqual(parseError({ $nor: 1 }), { code: 2, message: '$nor must be an array' });
    assert.deepEqual(parseError({ $or: [1] }), {
      code: 2,
      message: '$or/$and/$nor entries need to be full objects'
    });
  });

  it('validates operator arguments', () => {
    assert.deepEqual(parseError({ a: { $in: 1 } }), { code: 2, message: '$in needs an array' });
    assert.deepEqual(parseError({ a: { $nin: 1 } }), { code: 2, message: '$nin needs an array' });
    assert.deepEqual(parseError({ a: { $in: [{ $gt: 1 }] } }), {
      code: 2,
      message: 'cannot nest $ under $in'
    });
    assert.deepEqual(parseError({ a: { $size: -1 } }), {
      code: 2,
      message: '$size may not be negative'
    });
    assert.deepEqual(parseError({ a: { $size: 'x' } }), {
      code: 2,
      message: '$size needs a number'
    });
    assert.deepEqual(parseError({ a: { $size: 1.5 } }), {
      code: 2,
      message: '$size must be a whole number'
    });
    assert.deepEqual(parseError({ a: { $mod: [0, 1] } }), {
      code: 2,
      message: 'divisor cannot be 0'
    });
    assert.deepEqual(parseError({ a: { $mod: [1] } }), {
      code: 2,
      message: 'malformed mod, not enough elements'
    });
    assert.deepEqual(parseError({ a: { $mod: 1 } }), {
      code: 2,
      message: 'malformed mod, needs to be an array'
    });
    assert.deepEqual(parseError({ a: { $type: 'foo' } }), {
      code: 2,
      message: 'Unknown type name alias: foo'
    });
    assert.equal(parseError({ a: { $type: {} } })?.code, 14);
    assert.equal(parseError({ a: { $type: [] } })?.code, 9);
    assert.equal(parseError({ a: { $type: 99 } })?.message, 'Invalid numerical type code: 99');
    assert.deepEqual(parseError({ a: { $elemMatch: 1 } }), {
      code: 2,
      message: '$elemMatch needs an Object'
    });
    assert.deepEqual(parseError({ a: { $all: 1 } }), { code: 2, message: '$all needs an array' });
    assert.deepEqual(parseError({ a: { $all: [{ $elemMatch: {} }, 1] } }), {
      code: 2,
      message: '$all/$elemMatch has to be consistent'
    });
    assert.deepEqual(parseError({ a: { $not: 1 } }), {
      code: 2,
      message: '$not needs a regex or a document'
    });
    assert.deepEqual(parseError({ a: { $not: {} } }), { code: 2, message: '$not cannot be empty' });
    assert.equal(parseError({ a: { $bitsAllSet: [-1] } })?.code, 2);
    assert.equal(parseError({ a: { $bitsAllSet: -1 } })?.code, 9);
    assert.equal(parseError({ a: { $bitsAllSet: 'x' } })?.code, 2);
    assert.equal(parseError({ $alwaysTrue: 0 })?.code, 9);
  });

  it('validates regexes', () => {
    assert.deepEqual(parseError({ a: { $options: 'i' } }), {
      code: 2,
      message: '$options needs a $regex'
    });
    assert.deepEqual(parseError({ a: { $regex: 1 } }), {
      code: 2,
      message: '$regex has to be a string'
    });
    assert.equal(parseError({ a: { $regex: 'a', $options: 'z' } })?.code, 51108);
    assert.equal(parseError({ a: { $regex: '(' } })?.code, 51091);
    assert.equal(parseError({ a: { $regex: /a/i, $options: 'm' } })?.code, 51075);
    assert.deepEqual(parseError({ a: { $ne: /a/ } }), {
      code: 2,
      message: "Can't have regex as arg to $ne."
    });
    assert.deepEqual(parseError({ a: { $gt: /a/ } }), {
      code: 2,
      message: "Can't have RegEx as arg to predicate over field 'a'."
    });
  });

  it('refuses what the test server does not implement', () => {
    assert.equal(parseError({ $where: 'true' })?.code, 238);
    assert.deepEqual(parseError({ $jsonSchema: 1 }), {
      code: 14,
      message: '$jsonSchema must be an object'
    });
    assert.equal(parseError({ a: { $near: [0, 0] } })?.code, 238);
    assert.equal(parseError({ a: { $geoWithin: {} } })?.code, 238);
    assert.deepEqual(parseError({ $text: { $search: 'x' } }), {
      code: 27,
      message: 'text index required for $text query'
    });
    assert.deepEqual(parseError({ a: { $where: 'x' } }), {
      code: 2,
      message: '$where cannot be applied to a field'
    });
    assert.deepEqual(parseError({ a: { $elemMatch: { $expr: {} } } })?.code, 2);
  });
});
