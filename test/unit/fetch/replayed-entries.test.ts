import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BSON, type Document, Int32, Long, Timestamp } from 'mongodb';

import { deliveredOfReplay } from '../../../src/fetch/replayed-entries.js';
import { parseOplogEntry } from '../../../src/oplog/oplog-entry.js';
import { shardEntriesEnvelope, shardEntriesOf } from '../../../src/oplog/shard-entries.js';
import { type FetchedEntry } from '../../../src/pipeline/pipeline-items.js';

const ts = (i: number) => new Timestamp({ t: 100, i });
const fetched = (raw: Document): FetchedEntry => ({
  entry: parseOplogEntry(raw),
  bytes: BSON.calculateObjectSize(raw)
});
const insert = (i: number) => ({ ts: ts(i), op: 'i', ns: 'db.c', o: { _id: new Int32(i) } });
const prepare = (i: number) => ({
  ts: ts(i),
  op: 'c',
  ns: 'admin.$cmd',
  lsid: { id: new BSON.UUID() },
  txnNumber: new Long(1),
  o: { applyOps: [{ op: 'i', ns: 'db.c', o: { _id: new Int32(i) } }], prepare: true }
});

describe('deliveredOfReplay', () => {
  it('delivers what follows the start as read', () => {
    const later = fetched(insert(6));
    assert.equal(deliveredOfReplay(later, ts(5), 'nothing'), later);
    assert.equal(deliveredOfReplay(later, undefined, 'transactions'), later);
  });

  it('delivers only the transactions of what is read again, or nothing', () => {
    assert.equal(deliveredOfReplay(fetched(insert(4)), ts(5), 'transactions'), undefined);
    const step = fetched(prepare(4));
    assert.equal(deliveredOfReplay(step, ts(5), 'transactions'), step);
    assert.equal(deliveredOfReplay(step, ts(5), 'nothing'), undefined);
  });

  it('keeps the transaction steps of an envelope read again', () => {
    const envelope = fetched(shardEntriesEnvelope(ts(3), [insert(3), prepare(3)]));
    const kept = deliveredOfReplay(envelope, ts(5), 'transactions')!;
    assert.deepEqual(
      shardEntriesOf(kept.entry)?.map(part => part.op),
      ['c'],
      'the plain insert was applied already'
    );
  });
});
