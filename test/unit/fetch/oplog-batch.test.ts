import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  BSON,
  BSONRegExp,
  Decimal128,
  type Document,
  Double,
  Int32,
  Long,
  MongoNetworkError,
  MongoServerError,
  Timestamp
} from 'mongodb';

import {
  OplogStartMissingError,
  SourceReadError,
  UnsupportedOplogEntryError
} from '../../../src/errors.js';
import { sortOutBatch } from '../../../src/fetch/oplog-batch.js';
import {
  classifyFetcherError,
  oplogStartMissing,
  toFetcherError
} from '../../../src/fetch/oplog-fetcher-errors.js';
import { decodeOplogEntry } from '../../../src/pipeline/fetched-entry.js';

const ts = (t: number, i = 1): Timestamp => new Timestamp({ t, i });

function rawInsert(at: Timestamp, o: Document, extra: Document = {}): Uint8Array {
  return BSON.serialize({
    op: 'i',
    ns: 'shop.orders',
    o,
    ts: at,
    t: Long.fromNumber(1),
    v: Long.fromNumber(2),
    wall: new Date(0),
    ...extra
  });
}

describe('decodeOplogEntry', () => {
  it('keeps exact BSON number and regex types and reports the BSON size', () => {
    const raw = rawInsert(ts(10), {
      _id: new Int32(1),
      int: new Int32(1),
      double: new Double(1),
      long: Long.fromNumber(1),
      decimal: Decimal128.fromString('1'),
      re: new BSONRegExp('^a', 'i')
    });
    const { entry, bytes } = decodeOplogEntry(raw);
    assert.equal(bytes, raw.byteLength);
    assert.equal(entry.op, 'i');
    const o = entry.op === 'i' ? entry.o : {};
    assert.ok(o.int instanceof Int32);
    assert.ok(o.double instanceof Double);
    assert.ok(o.long instanceof Long);
    assert.ok(o.decimal instanceof Decimal128);
    assert.ok(o.re instanceof BSONRegExp);
    assert.ok(entry.ts instanceof Timestamp && entry.ts.equals(ts(10)));
    // Re-encoding gives back the same bytes: nothing was widened or reordered.
    assert.deepEqual(Buffer.from(BSON.serialize(entry.raw)), Buffer.from(raw));
  });

  it("takes a top-level resumeToken document as the entry's resume token, and only that", () => {
    const token = { _data: '8265AB12CD000000012B0429296E1404' };
    const withToken = decodeOplogEntry(rawInsert(ts(11), { _id: 1 }, { resumeToken: token }));
    assert.deepEqual(withToken.resumeToken, token);
    assert.equal(withToken.entry.op, 'i');
    const plain = decodeOplogEntry(rawInsert(ts(12), { _id: 2 }));
    assert.equal('resumeToken' in plain, false);
    const notADocument = decodeOplogEntry(rawInsert(ts(13), { _id: 3 }, { resumeToken: 'x' }));
    assert.equal('resumeToken' in notADocument, false);
  });

  it('rejects a malformed entry with a typed error', () => {
    assert.throws(
      () => decodeOplogEntry(BSON.serialize({ op: 'x', ns: 'a.b', o: {}, ts: ts(1) })),
      UnsupportedOplogEntryError
    );
  });
});

describe('sortOutBatch', () => {
  const entries = [
    decodeOplogEntry(rawInsert(ts(10, 1), { _id: 1 })),
    decodeOplogEntry(rawInsert(ts(10, 2), { _id: 2 }, { fromMigrate: true })),
    decodeOplogEntry(rawInsert(ts(11, 1), { _id: 3 })),
    decodeOplogEntry(rawInsert(ts(11, 2), { _id: 4 }, { fromMigrate: true }))
  ];

  it('skips fromMigrate entries, counts them, and still advances the position past them', () => {
    const batch = sortOutBatch(ts(9), entries);
    assert.deepEqual(
      batch.deliver.map(e => (e.entry.op === 'i' ? Number(e.entry.o._id) : undefined)),
      [1, 3]
    );
    assert.equal(batch.skippedFromMigrate, 2);
    assert.equal(batch.bytes, entries[0]!.bytes + entries[2]!.bytes);
    assert.ok(batch.firstOptime.equals(ts(10, 1)));
    assert.ok(batch.lastOptime.equals(ts(11, 2)), 'the last (skipped) entry is the position');
  });

  it('treats an entry that is not newer than its predecessor as fatal', () => {
    for (const after of [ts(10, 1), ts(12)]) {
      assert.throws(
        () => sortOutBatch(after, entries),
        (error: unknown) => error instanceof SourceReadError && !error.retryable
      );
    }
    assert.throws(
      () => sortOutBatch(ts(1), [entries[2]!, entries[0]!]),
      /returned entry 10:1 after 11:1/
    );
  });
});

describe('oplogStartMissing', () => {
  it('says how far behind a resume point that fell off the oplog is, and what to do', () => {
    const error = oplogStartMissing(ts(1000, 5), ts(1060, 1), ts(1060, 1));
    assert.ok(error instanceof OplogStartMissingError);
    assert.equal(error.behindSeconds, 60);
    assert.equal(error.retryable, false);
    assert.ok(error.optime?.equals(ts(1000, 5)));
    assert.match(error.message, /1000:5 fell off the source oplog/);
    assert.match(error.message, /60s newer/);
    assert.match(error.message, /Run a full sync \(mode "all"\), or enlarge the source oplog/);
  });

  it('reports a point the oplog covers but does not hold (rollback, other deployment)', () => {
    const error = oplogStartMissing(ts(1000, 5), ts(1000, 7), ts(900));
    assert.ok(error instanceof OplogStartMissingError);
    assert.equal(error.behindSeconds, 0);
    assert.match(error.message, /not an entry of the source oplog \(the next entry is 1000:7\)/);
    const newer = oplogStartMissing(ts(2000), undefined, ts(900));
    assert.match(newer.message, /newer than every entry/);
  });

  it('reports a source without an oplog as a non-retryable read error', () => {
    const error = oplogStartMissing(ts(1000), undefined, undefined);
    assert.ok(error instanceof SourceReadError);
    assert.equal(error.retryable, false);
    assert.match(error.message, /replica set/);
  });
});

describe('classifyFetcherError', () => {
  const server = (code: number) => new MongoServerError({ code, errmsg: `error ${code}` });

  it('retries lost cursors and lost capped positions, and network errors', () => {
    for (const code of [43, 237, 136, 91, 11602]) {
      assert.equal(classifyFetcherError(server(code)).retryable, true, `code ${code}`);
    }
    assert.equal(classifyFetcherError(new MongoNetworkError('closed')).retryable, true);
  });

  it('does not retry what re-opening cannot fix', () => {
    for (const code of [13, 2, 40415]) {
      assert.equal(classifyFetcherError(server(code)).retryable, false, `code ${code}`);
    }
    assert.equal(classifyFetcherError(oplogStartMissing(ts(1), ts(5), ts(5))).retryable, false);
  });

  it('wraps driver errors into a SourceReadError carrying the last fetched optime', () => {
    const error = toFetcherError(server(43), ts(7));
    assert.ok(error instanceof SourceReadError);
    assert.equal(error.retryable, true);
    assert.ok(error.optime?.equals(ts(7)));
    const typed = oplogStartMissing(ts(1), ts(5), ts(5));
    assert.equal(toFetcherError(typed, ts(7)), typed);
  });
});
