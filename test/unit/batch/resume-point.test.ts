import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document, Long, Timestamp } from 'bson';

import { ResumePoint } from '../../../src/batch/resume-point.js';
import { type CommandEntry, parseOplogEntry } from '../../../src/oplog/oplog-entry.js';
import { command, lsid, ts } from '../oplog/entries.js';

const NULL_OPTIME = { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) };
const op = (n: number): Document => ({ op: 'i', ns: 'a.b', o: { _id: n } });

function txn(second: number, o: Document, session: number, prev?: Timestamp): CommandEntry {
  return parseOplogEntry(
    command('admin', o, {
      ts: ts(second),
      lsid: lsid(session),
      txnNumber: Long.fromNumber(7),
      prevOpTime: prev ? { ts: prev, t: Long.fromNumber(1) } : NULL_OPTIME
    })
  ) as CommandEntry;
}

const text = (value: Timestamp): string => `${value.t}:${value.i}`;

describe('ResumePoint', () => {
  it('follows completed entries while no transaction is held', () => {
    const point = new ResumePoint(ts(1));
    assert.equal(text(point.checkpoint(ts(2))), '1:1', 'before anything: the resume optime');
    point.complete(ts(2));
    point.complete(ts(3));
    assert.equal(text(point.checkpoint(ts(2))), '3:1');
  });

  it('stays just before a held partialTxn chain until its commit is taken', () => {
    const point = new ResumePoint(ts(1));
    point.complete(ts(2));
    assert.deepEqual(point.pushTransaction(txn(3, { applyOps: [op(1)], partialTxn: true }, 1)), []);
    point.complete(ts(3));
    point.complete(ts(4)); // an unrelated write after the chain began
    assert.equal(point.pendingTransactions, 1);
    assert.equal(text(point.checkpoint(ts(2))), '2:1', 'the entry read just before the chain');
    const released = point.pushTransaction(txn(5, { applyOps: [op(2)] }, 1, ts(3)));
    assert.deepEqual(
      released.map(entry => entry.o._id),
      [1, 2]
    );
    point.complete(ts(5));
    assert.equal(point.pendingTransactions, 0);
    assert.equal(text(point.checkpoint(ts(2))), '5:1');
  });

  it('with two chains held, waits for the older one', () => {
    const point = new ResumePoint(undefined);
    point.pushTransaction(txn(10, { applyOps: [op(1)], partialTxn: true }, 1));
    point.complete(ts(10));
    point.pushTransaction(txn(12, { applyOps: [op(2)], partialTxn: true }, 2));
    point.complete(ts(12));
    // Nothing was read before the first chain: resume just before it.
    assert.equal(text(point.checkpoint(ts(10))), '10:0');
    point.pushTransaction(txn(14, { applyOps: [op(3)] }, 2, ts(12)));
    point.complete(ts(14));
    assert.equal(text(point.checkpoint(ts(10))), '10:0', 'the older chain still holds it');
    point.pushTransaction(txn(15, { applyOps: [op(4)] }, 1, ts(10)));
    point.complete(ts(15));
    assert.equal(text(point.checkpoint(ts(10))), '15:1');
  });

  it('a resume entry handed over again is not skipped', () => {
    // The fetcher may deliver its resume entry itself; the checkpoint must not pass it unread.
    const point = new ResumePoint(ts(5));
    assert.equal(text(point.checkpoint(ts(5))), '5:0');
  });
});
