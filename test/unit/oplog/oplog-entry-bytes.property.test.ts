/**
 * Parsing insert, update and delete entries from their bytes must be indistinguishable from
 * decoding them in full and parsing the result: same fields with the same BSON types, same
 * errors. Random entries cover every field mongod writes, of the right and of wrong types.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  Binary,
  BSON,
  BSONRegExp,
  Decimal128,
  type Document,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID
} from 'bson';
import fc from 'fast-check';

import { EXACT_DECODE_OPTIONS } from '../../../src/bson/exact-decode.js';
import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import { type OplogEntry, parseOplogEntry } from '../../../src/oplog/oplog-entry.js';
import {
  documentIdOf,
  parseCrudEntryBytes,
  sourceBytesOf
} from '../../../src/oplog/oplog-entry-bytes.js';
import { decodeOplogEntry } from '../../../src/pipeline/fetched-entry.js';

const FIELDS = [
  'op',
  'ts',
  'ns',
  'ui',
  'wall',
  'lsid',
  'txnNumber',
  'fromMigrate',
  'opIndex',
  'o',
  'o2',
  'kind',
  'command',
  'raw'
] as const;

const id = fc.oneof(
  fc.integer({ min: -5, max: 5 }).map(n => new Int32(n)),
  fc.integer({ min: -5, max: 5 }).map(n => new Double(n)),
  fc.integer({ min: -5, max: 5 }).map(n => Long.fromNumber(n)),
  fc.constant(Decimal128.fromString('1.0')),
  fc.string({ maxLength: 6 }),
  fc.constant(new ObjectId('64b7f0c2a1b2c3d4e5f60718')),
  fc.constant({ a: new Int32(1), b: 'x' }),
  fc.constant([new Int32(1)]),
  fc.constant(null),
  fc.constant(new MinKey()),
  fc.constant(new MaxKey()),
  fc.constant(new Date(5)),
  fc.constant(new Binary(Buffer.from('ab'), 0)),
  fc.constant(new Timestamp({ t: 1, i: 2 }))
);

const value = fc.oneof(
  id,
  fc.boolean(),
  fc.constant(new BSONRegExp('^a', 'i')),
  fc.constant(undefined),
  fc.constant({ $ref: 'c', $id: new Int32(1) })
);

/** A document, usually with an `_id`, sometimes with `$`-prefixed or DBRef-shaped fields. */
const doc = fc
  .record(
    {
      _id: id,
      a: value,
      nested: fc.dictionary(fc.constantFrom('x', 'y', '$z'), value, { maxKeys: 2 }),
      $ref: fc.constant('coll'),
      $id: id
    },
    { requiredKeys: [] }
  )
  .map(d => d as Document);

const update = fc.oneof(
  fc.constant({ $v: new Int32(2), diff: { u: { a: new Int32(1) }, sb: { d: { c: false } } } }),
  fc.constant({ $v: 2, diff: 'not a diff' }),
  fc.constant({ $v: new Int32(2), diff: { u: {} }, extra: 1 }),
  fc.constant({ $v: Long.fromNumber(1), $set: { a: 1 } }),
  fc.constant({ $v: new Double(3), $set: { a: 1 } }),
  fc.constant({ $set: { a: new Int32(1) }, $unset: { b: true } }),
  fc.constant({ $set: { a: 1 }, plain: 1 }),
  doc
);

/** A top-level field: absent, of the type mongod writes, or of a wrong type. */
const maybe = <T>(right: fc.Arbitrary<T>, wrong: fc.Arbitrary<unknown> = fc.constant('wrong')) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: right },
    { weight: 1, arbitrary: wrong }
  );

const entry = fc
  .record({
    op: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('i', 'u', 'd') },
      { weight: 1, arbitrary: fc.constantFrom('c', 'n', 'x', 'ii', '') },
      { weight: 1, arbitrary: fc.constant(new Int32(1)) }
    ),
    ns: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('shop.orders', 'shop.a.b', 'é.ü') },
      { weight: 1, arbitrary: fc.constantFrom('shop.$cmd', 'nodot', '', '$x.y', 'a.') },
      { weight: 1, arbitrary: fc.constant(new Int32(1)) }
    ),
    ts: fc.oneof(
      { weight: 8, arbitrary: fc.nat({ max: 2 ** 32 - 1 }).map(t => new Timestamp({ t, i: 7 })) },
      { weight: 1, arbitrary: fc.constant(Long.fromNumber(5)) }
    ),
    t: maybe(fc.constant(Long.fromNumber(1))),
    v: maybe(fc.constant(Long.fromNumber(2))),
    ui: maybe(fc.constant(new UUID('0f2b6a35-49ab-4b0e-8e4c-2f7f0c1e2d3a').toBinary())),
    wall: maybe(fc.constant(new Date(1_700_000_000_000))),
    lsid: maybe(
      fc.constant({ id: new UUID('1f2b6a35-49ab-4b0e-8e4c-2f7f0c1e2d3a').toBinary() }),
      fc.constant([1])
    ),
    txnNumber: maybe(fc.constant(Long.fromNumber(3))),
    stmtId: maybe(fc.constant(new Int32(0))),
    prevOpTime: maybe(fc.constant({ ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) })),
    fromMigrate: maybe(fc.boolean(), fc.constant(new Int32(1))),
    o: fc.oneof(
      { weight: 8, arbitrary: fc.oneof(doc, update) },
      { weight: 1, arbitrary: fc.constant('x') }
    ),
    o2: maybe(
      fc.oneof(
        id.map(value => ({ _id: value })),
        fc.constant({ _id: new Int32(1), shard: 'a' }),
        fc.constant({ shard: 'a' })
      ),
      fc.constant([1])
    ),
    resumeToken: fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constant({ _data: '82' }) }
    ),
    extra: maybe(fc.constant({ any: 'thing' }))
  })
  .map(fields => {
    // Only the fields given, in a varying but mongod-like order.
    const out: Document = {};
    for (const [key, field] of Object.entries(fields)) if (field !== undefined) out[key] = field;
    return out;
  });

/** Entries of the shapes mongod writes, with or without each optional field. */
const optional = <T>(right: fc.Arbitrary<T>) => fc.option(right, { nil: undefined });
const metadata = {
  ns: fc.constantFrom('shop.orders', 'shop.a.b', 'é.ü'),
  ts: fc.nat({ max: 2 ** 32 - 1 }).map(t => new Timestamp({ t, i: 3 })),
  t: optional(fc.constant(Long.fromNumber(1))),
  ui: optional(fc.constant(new UUID('0f2b6a35-49ab-4b0e-8e4c-2f7f0c1e2d3a').toBinary())),
  wall: optional(fc.constant(new Date(1_700_000_000_000))),
  lsid: optional(fc.constant({ id: new UUID('1f2b6a35-49ab-4b0e-8e4c-2f7f0c1e2d3a').toBinary() })),
  txnNumber: optional(fc.constant(Long.fromNumber(3))),
  fromMigrate: optional(fc.boolean())
};
const plainDoc = fc
  .record({ _id: id, a: value, nested: fc.dictionary(fc.constantFrom('x', '$z'), value) })
  .map(d => d as Document);
const wellFormed = fc.oneof(
  fc.record({
    op: fc.constant('i'),
    o: plainDoc,
    o2: optional(id.map(v => ({ _id: v }))),
    ...metadata
  }),
  fc.record({ op: fc.constant('u'), o: update, o2: id.map(v => ({ _id: v })), ...metadata }),
  fc.record({
    op: fc.constant('d'),
    o: id.map(v => ({ _id: v })),
    // A parsed delete has no o2, even where the bytes hold one.
    o2: optional(fc.constant({ _id: new Int32(1) })),
    ...metadata
  })
);

const anyEntry = fc.oneof(
  entry,
  wellFormed.map(fields => {
    const out: Document = {};
    for (const [key, field] of Object.entries(fields)) if (field !== undefined) out[key] = field;
    return out;
  })
);

/** A value as canonical Extended JSON: equal strings mean equal values of equal BSON types. */
function canonical(value: unknown): string {
  return value === undefined ? 'undefined' : BSON.EJSON.stringify({ v: value }, { relaxed: false });
}

function eager(bytes: Uint8Array): OplogEntry {
  return parseOplogEntry(BSON.deserialize(bytes, EXACT_DECODE_OPTIONS));
}

function outcome(parse: () => OplogEntry): { entry: OplogEntry } | { error: string } {
  try {
    return { entry: parse() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

describe('parseCrudEntryBytes', () => {
  it('gives what a full decode and parse give, field for field, or leaves the entry to it', () => {
    let parsedFromBytes = 0;
    let rejectedAlike = 0;
    fc.assert(
      fc.property(anyEntry, fields => {
        const bytes = BSON.serialize(fields);
        const expected = outcome(() => eager(bytes));
        const actual = outcome(() => decodeOplogEntry(bytes).entry);
        if ('error' in expected) {
          assert.deepEqual(actual, expected);
          rejectedAlike += 1;
          return;
        }
        assert.ok('entry' in actual, `decoding failed: ${'error' in actual ? actual.error : ''}`);
        if (parseCrudEntryBytes(bytes) !== undefined) parsedFromBytes += 1;
        for (const field of FIELDS) {
          assert.equal(
            canonical(actual.entry[field as keyof OplogEntry]),
            canonical(expected.entry[field as keyof OplogEntry]),
            field
          );
        }
        const e = expected.entry;
        if (e.op === 'i' || e.op === 'u' || e.op === 'd') {
          const a = actual.entry as typeof e;
          assert.equal(canonical(documentIdOf(a)), canonical(e.op === 'u' ? e.o2._id : e.o._id));
          assert.equal(a.raw.o, a.o, 'raw.o is the entry o');
          const kept = sourceBytesOf(a);
          if (kept !== undefined) assert.ok(Buffer.from(kept).equals(Buffer.from(bytes)));
        }
      }),
      { numRuns: 3000, seed: 20261123 }
    );
    // Neither path may be left untested by the generator.
    assert.ok(parsedFromBytes >= 500, `only ${parsedFromBytes} entries were parsed from bytes`);
    assert.ok(rejectedAlike >= 300, `only ${rejectedAlike} malformed entries`);
  });

  it('leaves commands, no-ops and entries carrying a resume token to the full parse', () => {
    const base = { ts: new Timestamp({ t: 1, i: 1 }), ns: 'db.$cmd', o: { create: 'c' } };
    assert.equal(parseCrudEntryBytes(BSON.serialize({ ...base, op: 'c' })), undefined);
    assert.equal(parseCrudEntryBytes(BSON.serialize({ ...base, op: 'n', ns: '' })), undefined);
    const insert = { ts: base.ts, op: 'i', ns: 'db.c', o: { _id: 1 } };
    assert.notEqual(parseCrudEntryBytes(BSON.serialize(insert)), undefined);
    const withToken = { ...insert, resumeToken: { _data: '82' } };
    assert.equal(parseCrudEntryBytes(BSON.serialize(withToken)), undefined);
    assert.deepEqual(decodeOplogEntry(BSON.serialize(withToken)).resumeToken, { _data: '82' });
  });

  it("decodes an insert's document only when it is read, and names the entry if it is not BSON", () => {
    const bytes = Buffer.from(
      BSON.serialize({
        ts: new Timestamp({ t: 9, i: 4 }),
        op: 'i',
        ns: 'shop.orders',
        o: { _id: new Int32(1), name: 'ab' }
      })
    );
    // Corrupt the name's first character into a lone UTF-8 continuation byte.
    bytes[bytes.indexOf(Buffer.from('ab\0')) as number] = 0x80;
    const parsed = parseCrudEntryBytes(bytes);
    assert.ok(parsed?.op === 'i');
    assert.equal(canonical(documentIdOf(parsed)), canonical(new Int32(1)));
    assert.throws(
      () => parsed.o,
      (error: unknown) =>
        error instanceof UnsupportedOplogEntryError &&
        error.namespace === 'shop.orders' &&
        error.optime?.equals(new Timestamp({ t: 9, i: 4 })) === true &&
        /"o" is not valid BSON/.test(error.message)
    );
  });
});
