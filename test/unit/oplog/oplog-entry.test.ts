import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document, Int32, Long } from 'bson';

import { ReplicationErrorCode, UnsupportedOplogEntryError } from '../../../src/errors.js';
import {
  compareOptimes,
  formatOptime,
  optimeOf,
  parseOplogEntry
} from '../../../src/oplog/oplog-entry.js';
import { command, insert, lsid, raw, ts } from './entries.js';

function assertUnsupported(input: Document, message: RegExp, ns?: string): void {
  assert.throws(
    () => parseOplogEntry(input),
    (error: unknown) => {
      assert.ok(error instanceof UnsupportedOplogEntryError);
      assert.equal(error.code, ReplicationErrorCode.UnsupportedOplogEntry);
      assert.equal(error.code, 'MR_UNSUPPORTED_OPLOG_ENTRY');
      assert.equal(error.retryable, false);
      assert.match(error.message, message);
      if (ns !== undefined) {
        assert.equal(error.namespace, ns);
        assert.ok(error.optime?.equals(ts(100)));
        assert.match(error.message, /at 100:1/);
      }
      return true;
    }
  );
}

describe('parseOplogEntry', () => {
  it('parses an insert, keeping BSON wrappers and the raw entry', () => {
    const doc = { _id: new Int32(1), n: Long.fromNumber(5) };
    const entry = parseOplogEntry(insert('shop.orders', doc));
    assert.equal(entry.op, 'i');
    assert.equal(entry.ns, 'shop.orders');
    assert.equal(entry.o, doc);
    assert.ok(entry.o.n instanceof Long);
    assert.equal(entry.fromMigrate, false);
    assert.equal(entry.opIndex, undefined);
    assert.ok(optimeOf(entry).equals(ts(100)));
    assert.equal(entry.raw.ns, 'shop.orders');
  });

  it('classifies updates as diff, operators or replacement', () => {
    const o2 = { _id: 1 };
    const kind = (o: Document): string => {
      const entry = parseOplogEntry(raw({ op: 'u', ns: 'a.b', o, o2 }));
      assert.equal(entry.op, 'u');
      return entry.op === 'u' ? entry.kind : '';
    };
    assert.equal(kind({ $v: new Int32(2), diff: { u: { a: 1 } } }), 'diff');
    assert.equal(kind({ $v: 2, diff: {} }), 'diff');
    assert.equal(kind({ $v: new Int32(1), $set: { a: 1 } }), 'operators');
    assert.equal(kind({ $set: { a: 1 }, $unset: { b: true } }), 'operators');
    assert.equal(kind({ _id: 1, a: 1 }), 'replacement');
  });

  it('parses deletes, commands and no-ops', () => {
    const d = parseOplogEntry(raw({ op: 'd', ns: 'a.b', o: { _id: 1 } }));
    assert.equal(d.op, 'd');
    const c = parseOplogEntry(command('a', { create: 'b' }));
    assert.ok(c.op === 'c' && c.command === 'create');
    const n = parseOplogEntry(raw({ op: 'n', ns: '', o: { msg: 'periodic noop' } }));
    assert.equal(n.op, 'n');
  });

  it('carries session fields and fromMigrate', () => {
    const session = lsid();
    const entry = parseOplogEntry(
      insert('a.b', { _id: 1 }, { lsid: session, txnNumber: Long.fromNumber(3), fromMigrate: true })
    );
    assert.equal(entry.lsid, session);
    assert.ok(entry.fromMigrate);
  });

  it('rejects malformed entries with op, namespace and optime', () => {
    assertUnsupported(raw({ op: 'x', ns: 'a.b', o: {} }), /unknown op "x"/, 'a.b');
    assertUnsupported(raw({ op: 'u', ns: 'a.b', o: { $set: { a: 1 } } }), /has no "o2"/, 'a.b');
    assertUnsupported(
      raw({ op: 'u', ns: 'a.b', o: { $set: {} }, o2: { x: 1 } }),
      /"o2" has no _id/,
      'a.b'
    );
    assertUnsupported(raw({ op: 'd', ns: 'a.b', o: {} }), /"o" has no _id/, 'a.b');
    assertUnsupported(raw({ op: 'i', ns: 'a.b', o: { x: 1 } }), /"o" has no _id/, 'a.b');
    assertUnsupported(
      raw({ op: 'u', ns: 'a.b', o: { $v: 3, diff: {} }, o2: { _id: 1 } }),
      /unknown update format \$v: 3 \(expected 1 or 2\)/,
      'a.b'
    );
    assertUnsupported(
      raw({ op: 'u', ns: 'a.b', o: { $v: 2 }, o2: { _id: 1 } }),
      /no "diff" document/,
      'a.b'
    );
    assertUnsupported(
      raw({ op: 'u', ns: 'a.b', o: { $set: { a: 1 }, b: 1 }, o2: { _id: 1 } }),
      /mixes update operators and plain fields/,
      'a.b'
    );
    assertUnsupported(raw({ op: 'i', ns: 'a.b', o: 5 }), /"o" is missing or not a document/, 'a.b');
    assertUnsupported(raw({ op: 'i', ns: 'nodot', o: { _id: 1 } }), /not a db.collection/, 'nodot');
    assertUnsupported(raw({ op: 'c', ns: 'a.b', o: { drop: 'b' } }), /not db.\$cmd/, 'a.b');
    assertUnsupported(command('a', {}), /command document "o" is empty/, 'a.$cmd');
    assertUnsupported(insert('a.b', { _id: 1 }, { fromMigrate: 1 }), /fromMigrate/, 'a.b');
  });

  it('rejects an entry without a Timestamp ts, without an optime', () => {
    assertUnsupported({ op: 'i', ns: 'a.b', o: { _id: 1 }, ts: 5 }, /"ts" is missing/);
    assertUnsupported({ op: 'i', ns: 'a.b', o: { _id: 1 } }, /"ts" is missing/);
  });

  it('ends the message with what to do', () => {
    assert.throws(
      () => parseOplogEntry(raw({ op: 'x', ns: 'a.b', o: {} })),
      /Malformed oplog entry \(op "x" on a\.b at 100:1\): unknown op .*\. This entry cannot be replicated/
    );
  });
});

describe('compareOptimes', () => {
  it('orders by seconds, then increment, treating both as unsigned', () => {
    assert.equal(compareOptimes(ts(1, 5), ts(2, 1)), -1);
    assert.equal(compareOptimes(ts(2, 1), ts(1, 5)), 1);
    assert.equal(compareOptimes(ts(2, 1), ts(2, 2)), -1);
    assert.equal(compareOptimes(ts(2, 2), ts(2, 2)), 0);
    assert.equal(compareOptimes(ts(2 ** 31 + 1, 0), ts(5, 0)), 1);
    assert.equal(formatOptime(ts(7, 3)), '7:3');
  });
});
