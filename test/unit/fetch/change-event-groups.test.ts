import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Int32, Long, Timestamp } from 'mongodb';

import {
  ChangeEventGroups,
  progressEntry,
  type SkippedChangeEvent
} from '../../../src/fetch/change-event-groups.js';
import { unwrapApplyOps } from '../../../src/oplog/transactions.js';

const ts = (i: number) => new Timestamp({ t: 100, i });
const lsid = { id: 'session' };

function insert(i: number, id: number, txn = false) {
  return {
    ...(txn ? { txnNumber: new Long(7), lsid } : {}),
    _id: { _data: `tok-${i}-${id}` },
    operationType: 'insert',
    clusterTime: ts(i),
    fullDocument: { _id: new Int32(id) },
    ns: { db: 'db', coll: 'c' },
    documentKey: { _id: new Int32(id) }
  };
}

describe('ChangeEventGroups', () => {
  const skipped: SkippedChangeEvent[] = [];
  const groups = () => new ChangeEventGroups('test', event => skipped.push(event));

  it('turns a lone write into the oplog entry of that write, with its resume token', () => {
    const g = groups();
    assert.equal(g.add(insert(1, 1)), undefined);
    assert.equal(g.pending, true);
    const done = g.add(insert(2, 2))!;
    assert.equal(done.entry.op, 'i');
    assert.ok(done.entry.ts.equals(ts(1)));
    assert.deepEqual(done.resumeToken, { _data: 'tok-1-1' });
    assert.deepEqual(
      (done.entry.raw as { resumeToken?: unknown }).resumeToken,
      { _data: 'tok-1-1' },
      'kept in the entry for the spool'
    );
    assert.equal(g.flush()!.entry.op, 'i');
    assert.equal(g.pending, false);
  });

  it('turns the events of one transaction into one applyOps entry with its session', () => {
    const g = groups();
    for (const id of [1, 2, 3]) assert.equal(g.add(insert(5, id, true)), undefined);
    const done = g.flush()!;
    assert.ok(done.entry.op === 'c' && done.entry.command === 'applyOps');
    assert.deepEqual(done.entry.lsid, lsid);
    assert.deepEqual(done.resumeToken, { _data: 'tok-5-3' }, 'resumes after the last event');
    assert.deepEqual(
      unwrapApplyOps(done.entry).map(op => Number(op.o._id)),
      [1, 2, 3]
    );
  });

  it('reports an event with nothing to apply and still advances with a noop', () => {
    skipped.length = 0;
    const g = groups();
    g.add({
      _id: { _data: 'tok-9' },
      operationType: 'reshardCollection',
      clusterTime: ts(9),
      ns: { db: 'db', coll: 'c' },
      operationDescription: {}
    });
    const done = g.flush()!;
    assert.equal(done.entry.op, 'n');
    assert.deepEqual(done.resumeToken, { _data: 'tok-9' });
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0]!.operationType, 'reshardCollection');
    assert.equal(skipped[0]!.namespace, 'db.c');
  });

  it('forgets a pending group on discard', () => {
    const g = groups();
    g.add(insert(1, 1));
    g.discard();
    assert.equal(g.flush(), undefined);
  });

  it('builds progress noops that carry the post-batch resume token', () => {
    const progress = progressEntry(ts(4), { _data: 'hwm' });
    assert.equal(progress.entry.op, 'n');
    assert.deepEqual(progress.resumeToken, { _data: 'hwm' });
  });
});
