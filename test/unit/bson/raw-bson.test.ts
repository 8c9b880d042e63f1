import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Binary, BSON, BSONRegExp, Decimal128, Int32, Long } from 'mongodb';

import { decodeRawValue, rawElements, rawId } from '../../../src/bson/raw-bson.js';

describe('raw BSON reading', () => {
  it('finds _id wherever it is, and decodes it with its exact type', () => {
    const document = BSON.serialize({
      s: 'text',
      re: new BSONRegExp('a.b', 'i'),
      bin: new Binary(Buffer.from([1, 2, 3]), 4),
      nested: { deep: [1, { x: null }] },
      _id: new Long(7),
      after: new Int32(1)
    });
    const id = rawId(document);
    assert.ok(id);
    assert.equal(id.type, 0x12);
    assert.deepEqual(decodeRawValue(id), new Long(7));
    assert.equal(rawId(BSON.serialize({ a: 1 })), undefined);
  });

  it('keeps every BSON type of a decoded _id', () => {
    for (const value of [
      new Int32(3),
      Decimal128.fromString('1.50'),
      { a: new Int32(1), b: [new Long(2)] },
      new BSONRegExp('x', 'imsux')
    ]) {
      const id = rawId(BSON.serialize({ _id: value }));
      assert.ok(id);
      assert.deepEqual(decodeRawValue(id), value);
    }
  });

  it('walks elements in order with their names', () => {
    const names = [...rawElements(BSON.serialize({ b: 1, a: 'x', c: {} }))].map(e =>
      Buffer.from(e.name).toString()
    );
    assert.deepEqual(names, ['b', 'a', 'c']);
  });

  it('rejects truncated or malformed documents', () => {
    const document = BSON.serialize({ _id: 'abcdef' });
    assert.throws(() => rawId(document.subarray(0, document.length - 3)), RangeError);
    const bad = Uint8Array.from(document);
    bad[4] = 0x42; // no such element type
    assert.throws(() => rawId(bad), RangeError);
  });
});
