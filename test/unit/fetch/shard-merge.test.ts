import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BSON, type Document, Int32, Long, Timestamp } from 'mongodb';

import { type MergeStep, ShardMerge } from '../../../src/fetch/shard-merge.js';
import { parseOplogEntry } from '../../../src/oplog/oplog-entry.js';
import { shardEntriesOf } from '../../../src/oplog/shard-entries.js';
import { TransactionAssembler } from '../../../src/oplog/transactions.js';
import { type FetchedEntry } from '../../../src/pipeline/pipeline-items.js';

const ts = (i: number) => new Timestamp({ t: 100, i });
const lsid = { id: new BSON.UUID('0123456789abcdef0123456789abcdef') };

function fetched(raw: Document): FetchedEntry {
  return { entry: parseOplogEntry(raw), bytes: BSON.calculateObjectSize(raw) };
}
const insert = (i: number, id: number, ns = 'db.c') =>
  fetched({ ts: ts(i), op: 'i', ns, o: { _id: new Int32(id) } });
const noop = (i: number) => fetched({ ts: ts(i), op: 'n', ns: '', o: { msg: 'periodic noop' } });
/** An entry of transaction 3 of `lsid` at `i`, after its entry at `prev` (none: the first). */
const txnEntry = (i: number, prev: Timestamp | undefined, o: Document) =>
  fetched({
    ts: ts(i),
    op: 'c',
    ns: 'admin.$cmd',
    lsid,
    txnNumber: new Long(3),
    prevOpTime: { ts: prev ?? new Timestamp({ t: 0, i: 0 }), t: new Long(prev ? 1 : -1) },
    o
  });
const prepare = (i: number, id: number) =>
  txnEntry(i, undefined, {
    applyOps: [{ op: 'i', ns: 'db.c', o: { _id: new Int32(id) } }],
    prepare: true
  });
const commit = (i: number, prepared: number) =>
  txnEntry(i, ts(prepared), { commitTransaction: new Int32(1), commitTimestamp: ts(prepared) });

/** Runs the merge over fixed shard streams, every shard fetched through `through`. */
function drain(streams: FetchedEntry[][], through: Timestamp): FetchedEntry[] {
  const merge = new ShardMerge(streams.map((_, index) => `shard${index}`));
  const queues = streams.map(stream => [...stream]);
  const out: FetchedEntry[] = [];
  for (;;) {
    queues.forEach((queue, index) => {
      if (merge.needs(index) && queue.length > 0) merge.offer(index, queue.shift()!);
    });
    const step: MergeStep = merge.next(() => through);
    if (step.kind === 'entry') out.push(step.fetched);
    else if (step.kind === 'wait') return out;
  }
}

describe('ShardMerge', () => {
  it('releases the shards’ entries in cluster-time order', () => {
    const out = drain(
      [
        [insert(1, 1), insert(4, 4), insert(5, 5)],
        [insert(2, 2), insert(3, 3), insert(6, 6)]
      ],
      ts(10)
    );
    assert.deepEqual(
      out.map(f => f.entry.ts.i),
      [1, 2, 3, 4, 5, 6]
    );
  });

  it('waits for a shard that has not fetched through the oldest entry yet', () => {
    const merge = new ShardMerge(['a', 'b']);
    merge.offer(0, insert(5, 5));
    let bThrough = ts(4);
    assert.equal(merge.next(() => bThrough).kind, 'wait', 'b may still log something before 5');
    bThrough = ts(5);
    const step = merge.next(index => (index === 1 ? bThrough : undefined));
    assert.equal(step.kind, 'entry');
  });

  it('waits while a shard has no position at all', () => {
    const merge = new ShardMerge(['a', 'b']);
    merge.offer(0, insert(1, 1));
    assert.equal(merge.next(() => undefined).kind, 'wait');
  });

  it('carries the entries of several shards at one optime whole, in shard order', () => {
    const out = drain([[insert(1, 1, 'db.a')], [noop(1)], [prepare(1, 2)]], ts(2));
    assert.equal(out.length, 1, 'one position, one entry');
    const merged = out[0]!.entry;
    assert.ok(merged.ts.equals(ts(1)));
    const parts = shardEntriesOf(merged)!;
    assert.deepEqual(
      parts.map(part => [part.op, part.ns]),
      [
        ['i', 'db.a'],
        ['c', 'admin.$cmd']
      ],
      'the no-op left out, the transaction step kept whole'
    );
    assert.equal(parts[1]!.o.prepare, true);
    assert.ok(parts[1]!.lsid !== undefined && parts.every(part => part.ts.equals(ts(1))));
  });

  it('keeps a lone write at an optime where the other shards only logged no-ops', () => {
    const out = drain([[noop(1)], [insert(1, 2)]], ts(2));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.entry.op, 'i');
  });

  it('passes one decision of a cross-shard transaction: the first commit releases every part', () => {
    // Both shards prepared (1, 2), then each logged its commit (3, 4).
    const out = drain(
      [
        [prepare(1, 1), commit(3, 1)],
        [prepare(2, 2), commit(4, 2)]
      ],
      ts(10)
    );
    assert.deepEqual(
      out.map(f => f.entry.ts.i),
      [1, 2, 3]
    );
    const assembler = new TransactionAssembler();
    const applied = out.flatMap(f => assembler.push(f.entry));
    assert.deepEqual(
      applied.map(op => (op.op === 'i' ? (op.o._id as Int32).value : undefined)),
      [1, 2],
      'both shards’ writes, once'
    );
    assert.equal(assembler.pendingCount, 0);
  });
});
