import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document, Long, Timestamp } from 'bson';

import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import {
  type CommandEntry,
  type OplogEntry,
  parseOplogEntry
} from '../../../src/oplog/oplog-entry.js';
import {
  isPartialTransaction,
  isTransactionCommit,
  TransactionAssembler,
  unwrapApplyOps
} from '../../../src/oplog/transactions.js';
import { command, insert, lsid, ts } from './entries.js';

const NULL_OPTIME = { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) };

const op = (n: number): Document => ({ op: 'i', ns: 'a.b', o: { _id: n } });

function txn(second: number, o: Document, session = 1, prev?: Timestamp): CommandEntry {
  return parseOplogEntry(
    command('admin', o, {
      ts: ts(second),
      lsid: lsid(session),
      txnNumber: Long.fromNumber(7),
      prevOpTime: prev ? { ts: prev, t: Long.fromNumber(1) } : NULL_OPTIME
    })
  ) as CommandEntry;
}

const ids = (ops: OplogEntry[]): unknown[] => ops.map(o => o.o._id);

describe('unwrapApplyOps', () => {
  it('returns inner ops in order, inheriting ts/t/wall/lsid/txnNumber, with their index', () => {
    const entry = txn(5, { applyOps: [op(1), { op: 'd', ns: 'a.b', o: { _id: 1 } }, op(1)] });
    const ops = unwrapApplyOps(entry);
    assert.deepEqual(
      ops.map(o => o.op),
      ['i', 'd', 'i']
    );
    assert.deepEqual(
      ops.map(o => o.opIndex),
      [0, 1, 2]
    );
    for (const inner of ops) {
      assert.ok(inner.ts.equals(ts(5)));
      assert.equal(inner.lsid, entry.lsid);
      assert.equal(inner.txnNumber, entry.txnNumber);
      assert.equal(inner.wall, entry.wall);
    }
  });

  it('unwraps nested applyOps in place', () => {
    const entry = txn(5, {
      applyOps: [op(1), { op: 'c', ns: 'admin.$cmd', o: { applyOps: [op(2), op(3)] } }, op(4)]
    });
    const ops = unwrapApplyOps(entry);
    assert.deepEqual(ids(ops), [1, 2, 3, 4]);
    assert.deepEqual(
      ops.map(o => o.opIndex),
      [0, 1, 2, 3]
    );
  });

  it('rejects malformed applyOps with the entry named', () => {
    const check = (o: Document, message: RegExp): void =>
      assert.throws(
        () => unwrapApplyOps(txn(5, o)),
        (error: unknown) =>
          error instanceof UnsupportedOplogEntryError &&
          message.test(error.message) &&
          error.optime?.equals(ts(5)) === true
      );
    check({ applyOps: 5 }, /"applyOps" is not an array/);
    check({ applyOps: [5] }, /applyOps\[0\] is not a document/);
    check({ applyOps: [{ op: 'i', ns: 'a.b', o: {} }] }, /"o" has no _id/);
  });
});

describe('isPartialTransaction / isTransactionCommit', () => {
  it('classifies transaction entries', () => {
    const partial = txn(1, { applyOps: [op(1)], partialTxn: true });
    const final = txn(2, { applyOps: [op(2)], count: 2 }, 1, ts(1));
    const prepare = txn(3, { applyOps: [op(3)], prepare: true });
    const commit = txn(4, { commitTransaction: 1, commitTimestamp: ts(4) }, 1, ts(3));
    const batched = parseOplogEntry(command('admin', { applyOps: [op(1)] }));
    assert.ok(isPartialTransaction(partial));
    assert.ok(!isPartialTransaction(final));
    assert.ok(isTransactionCommit(final));
    assert.ok(isTransactionCommit(commit));
    assert.ok(!isTransactionCommit(prepare));
    assert.ok(!isTransactionCommit(partial));
    assert.ok(!isTransactionCommit(batched));
  });
});

describe('TransactionAssembler', () => {
  it('passes CRUD and DDL through and releases a plain applyOps at once', () => {
    const assembler = new TransactionAssembler();
    const crud = parseOplogEntry(insert('a.b', { _id: 1 }));
    assert.deepEqual(assembler.push(crud), [crud]);
    const ddl = parseOplogEntry(command('a', { drop: 'b' }));
    assert.deepEqual(assembler.push(ddl), [ddl]);
    assert.deepEqual(ids(assembler.push(txn(3, { applyOps: [op(1), op(2)] }))), [1, 2]);
    const batched = parseOplogEntry(command('admin', { applyOps: [op(5)] }));
    assert.deepEqual(ids(assembler.push(batched)), [5]);
    assert.equal(assembler.pendingCount, 0);
  });

  it('holds a partialTxn chain until its final entry, then releases it in order', () => {
    const assembler = new TransactionAssembler();
    assert.deepEqual(assembler.push(txn(1, { applyOps: [op(1), op(2)], partialTxn: true })), []);
    assert.deepEqual(assembler.push(txn(2, { applyOps: [op(3)], partialTxn: true }, 1, ts(1))), []);
    // Another session's transaction commits in between, untouched by the held chain.
    assert.deepEqual(ids(assembler.push(txn(3, { applyOps: [op(9)] }, 2))), [9]);
    assert.equal(assembler.pendingCount, 1);
    assert.ok(assembler.oldestPendingOptime()?.equals(ts(1)));
    const released = assembler.push(txn(4, { applyOps: [op(4)], count: 4 }, 1, ts(2)));
    assert.deepEqual(ids(released), [1, 2, 3, 4]);
    assert.deepEqual(
      released.map(o => o.opIndex),
      [0, 1, 2, 3]
    );
    assert.deepEqual(
      released.map(o => o.ts.t),
      [1, 1, 2, 4]
    );
    assert.equal(assembler.pendingCount, 0);
    assert.equal(assembler.oldestPendingOptime(), undefined);
  });

  it('drops a chain on abortTransaction', () => {
    const assembler = new TransactionAssembler();
    assembler.push(txn(1, { applyOps: [op(1)], partialTxn: true }));
    assert.deepEqual(assembler.push(txn(2, { abortTransaction: 1 }, 1, ts(1))), []);
    assert.equal(assembler.pendingCount, 0);
  });

  it('holds a prepared transaction until commitTransaction', () => {
    const assembler = new TransactionAssembler();
    assert.deepEqual(assembler.push(txn(1, { applyOps: [op(1)], prepare: true })), []);
    assert.equal(assembler.pendingCount, 1);
    const released = assembler.push(
      txn(2, { commitTransaction: 1, commitTimestamp: ts(2) }, 1, ts(1))
    );
    assert.deepEqual(ids(released), [1]);
    assert.equal(assembler.pendingCount, 0);
  });

  it('reports the oldest held chain across sessions', () => {
    const assembler = new TransactionAssembler();
    assembler.push(txn(5, { applyOps: [op(1)], partialTxn: true }, 1));
    assembler.push(txn(3, { applyOps: [op(1)], partialTxn: true }, 2));
    assert.ok(assembler.oldestPendingOptime()?.equals(ts(3)));
  });

  it('refuses to release a chain whose start it never saw', () => {
    const assembler = new TransactionAssembler();
    assert.throws(
      () => assembler.push(txn(4, { applyOps: [op(4)], count: 4 }, 1, ts(2))),
      /earlier entries \(back to 2:1\) were not seen.*start from an optime before/
    );
    assert.throws(
      () => assembler.push(txn(4, { applyOps: [op(4)], partialTxn: true }, 1, ts(2))),
      UnsupportedOplogEntryError
    );
  });

  it('rejects a partial entry without a session', () => {
    const entry = parseOplogEntry(command('admin', { applyOps: [op(1)], partialTxn: true }));
    assert.throws(() => new TransactionAssembler().push(entry), /no lsid or txnNumber/);
  });
});
