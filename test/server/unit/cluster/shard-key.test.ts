/**
 * The hashed shard key: BSONElementHasher::hash64 (seed 0) must give mongod's values, or
 * documents would land in other chunks than on mongod. Expected values: mongod's
 * src/mongo/db/hasher_test.cpp ("hard-coded checks to ensure the hash function is consistent
 * across platforms and server versions").
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Binary, Double, Int32, Long, MaxKey, MinKey, ObjectId } from 'bson';

import { type BValue } from '../../bson/values.js';
import { hash64, ShardKeyPattern } from '../../cluster/shard-key.js';

const VECTORS: [string, BValue, string][] = [
  ['int 42', new Int32(42), '-944302157085130861'],
  ['double 42.123 (truncated)', new Double(42.123), '-944302157085130861'],
  ['long 42', Long.fromNumber(42), '-944302157085130861'],
  ['0', new Int32(0), '4854801880128277513'],
  ['NaN (as 0)', new Double(Number.NaN), '4854801880128277513'],
  ['1', new Int32(1), '5902408780260971510'],
  ['-1', new Int32(-1), '1140205862565771219'],
  ['int32 min', new Int32(-2147483648), '6165898260261354870'],
  ['int32 max', new Int32(2147483647), '1143184177162245883'],
  ['double max (saturates)', new Double(Number.MAX_VALUE), '921523596458303250'],
  ['long max', Long.MAX_VALUE, '921523596458303250'],
  ['-double max', new Double(-Number.MAX_VALUE), '4532067210535695462'],
  ['long min', Long.MIN_VALUE, '4532067210535695462'],
  ['MinKey', new MinKey(), '7961148599568647290'],
  ['MaxKey', new MaxKey(), '5504842513779440750'],
  ['null', null, '2338878944348059895'],
  ['"abc"', 'abc', '8478485326885698097'],
  ['""', '', '2049396243249673340'],
  [
    '{a: "abc", b: 123L}',
    new Map<string, BValue>([
      ['a', 'abc'],
      ['b', Long.fromNumber(123)]
    ]),
    '4771603801758380216'
  ],
  ['{}', new Map(), '7980500913326740417'],
  ['["bar", "baz", "qux"]', ['bar', 'baz', 'qux'], '-2938911267422831539'],
  ['[]', [], '8849948234993459283'],
  ['BinData(0)', new Binary(Buffer.from([0, 1, 2, 3, 4, 6]), 0), '7252465090394235301'],
  ['BinData(128)', new Binary(Buffer.from([0, 1, 2, 3, 4, 6]), 128), '5736670452907618262'],
  ['UUID', new Binary(Buffer.from([...Array(16).keys()]), 4), '6084661258071355978'],
  ['ObjectId', new ObjectId('010203040506070809101112'), '-5588663249627035708'],
  ['zero ObjectId', new ObjectId('000000000000000000000000'), '-4293118519463489418'],
  ['true', true, '6405873908747105701'],
  ['false', false, '6289544573401934092'],
  ['Date(0)', new Date(0), '-1178696894582842035']
];

describe('hashed shard keys', () => {
  for (const [name, value, expected] of VECTORS) {
    it(`hashes ${name} as mongod does`, () => {
      assert.equal(hash64(value).toString(), expected);
    });
  }

  it('extracts a document’s shard key (missing fields as null, hashed fields hashed)', () => {
    const pattern = new ShardKeyPattern(
      new Map<string, BValue>([
        ['a.b', new Int32(1)],
        ['c', 'hashed']
      ])
    );
    const key = pattern.keyOfDocument(new Map<string, BValue>([['c', new Int32(1)]]));
    assert.deepEqual(
      [...key],
      [
        ['a.b', null],
        ['c', Long.fromString('5902408780260971510')]
      ]
    );
    assert.throws(
      () => new ShardKeyPattern(new Map<string, BValue>([['x', new Int32(-1)]])),
      /Unsupported shard key pattern/
    );
  });
});
