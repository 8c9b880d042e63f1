/**
 * Unwinding `applyOps` entries as DocumentSourceChangeStreamUnwindTransaction does: a committed
 * transaction (one entry, or a `partialTxn` chain closed by an entry with `count`) yields its
 * operations, oldest first, when the commit entry is read; the chain is gathered by walking
 * `prevOpTime` back through the oplog, so a stream resumed between the entries still sees them.
 * Batched multi-deletes (applyOps without lsid) unwind the same way.
 */
import { Timestamp } from 'bson';

import { type BDoc, type BValue, isDoc } from '../bson/values.js';
import { type Oplog } from '../mongod/oplog.js';

/** True for an `applyOps` entry (transaction commit, partial transaction or batched write). */
export function isApplyOps(entry: BDoc): boolean {
  const o = entry.get('o');
  return entry.get('op') === 'c' && isDoc(o) && Array.isArray(o.get('applyOps'));
}

/** True for the non-final entries of a large transaction: they emit nothing when read. */
export function isPartialTransaction(entry: BDoc): boolean {
  const o = entry.get('o');
  return isDoc(o) && o.get('partialTxn') === true;
}

/** True for a prepared transaction's (last) `applyOps` entry: it emits nothing until committed. */
export function isPreparedTransaction(entry: BDoc): boolean {
  const o = entry.get('o');
  return isDoc(o) && o.get('prepare') === true;
}

/**
 * For a `{commitTransaction: 1, commitTimestamp}` entry (the commit of a prepared transaction,
 * op_observer_impl onPreparedTransactionCommit), the prepare entry its `prevOpTime` points to.
 */
export function preparedTransactionOf(
  entry: BDoc,
  oplog: Oplog
): { doc: BDoc; ts: Timestamp } | undefined {
  const o = entry.get('o');
  if (entry.get('op') !== 'c' || !isDoc(o) || !o.has('commitTransaction')) return undefined;
  const prev = entry.get('prevOpTime');
  const prevTs = isDoc(prev) ? prev.get('ts') : undefined;
  if (!(prevTs instanceof Timestamp)) return undefined;
  const prepared = entryAt(oplog, prevTs);
  return prepared && isPreparedTransaction(prepared) ? { doc: prepared, ts: prevTs } : undefined;
}

/** One operation of an `applyOps` entry, with where it sits (its change-stream image id). */
export interface AppliedOperation {
  readonly op: BDoc;
  /** The `ts` of the entry that holds it. */
  readonly entryTs: Timestamp;
  /** Its index in that entry's `applyOps`. */
  readonly index: number;
}

/** Every operation of the transaction this (final) entry commits, in commit order. */
export function transactionOperations(
  entry: BDoc,
  ts: Timestamp,
  oplog: Oplog
): AppliedOperation[] {
  const chain: { doc: BDoc; ts: Timestamp }[] = [{ doc: entry, ts }];
  let current = entry;
  for (;;) {
    const prev = current.get('prevOpTime');
    const prevTs = isDoc(prev) ? prev.get('ts') : undefined;
    if (!(prevTs instanceof Timestamp) || (prevTs.t === 0 && prevTs.i === 0)) break;
    const earlier = entryAt(oplog, prevTs);
    if (!earlier || !isPartialTransaction(earlier)) break;
    chain.unshift({ doc: earlier, ts: prevTs });
    current = earlier;
  }
  return chain.flatMap(link =>
    opsOf(link.doc).map((op, index) => ({ op, entryTs: link.ts, index }))
  );
}

function opsOf(entry: BDoc): BDoc[] {
  const ops = (entry.get('o') as BDoc).get('applyOps') as BValue[];
  return ops.filter(isDoc);
}

function entryAt(oplog: Oplog, ts: Timestamp): BDoc | undefined {
  const index = oplog.lowerBound(ts);
  const record = oplog.records(index).next();
  if (record.done) return undefined;
  const found = record.value;
  return found.ts.t === ts.t && found.ts.i === ts.i ? found.doc : undefined;
}
