/**
 * What a sharded fetcher delivers of the entries it reads again. A transaction open at the start
 * point (a checkpoint between two participants' commits, a start while one is prepared) is read
 * again from its first entry; everything else read again was applied already, and applying it
 * again could undo a newer write another writer made since (a shard worker's, to a document a
 * migration moved), so only the transactions' own entries are delivered.
 */
import { BSON, type Timestamp } from 'mongodb';

import { compareOptimes, type OplogEntry, parseOplogEntry } from '../oplog/oplog-entry.js';
import { shardEntriesEnvelope, shardEntriesOf } from '../oplog/shard-entries.js';
import { TRANSACTION_COMMANDS } from '../oplog/transactions.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';

/**
 * `fetched` as read, when it is after `after` (the start asked for); at or before it, only its
 * transaction steps (`'transactions'`), or nothing (`'nothing'`).
 * @internal
 */
export function deliveredOfReplay(
  fetched: FetchedEntry,
  after: Timestamp | undefined,
  mode: 'transactions' | 'nothing'
): FetchedEntry | undefined {
  if (after === undefined || compareOptimes(fetched.entry.ts, after) > 0) return fetched;
  if (mode === 'nothing') return undefined;
  const parts = shardEntriesOf(fetched.entry);
  if (parts === undefined) return isTransactionStep(fetched.entry) ? fetched : undefined;
  const steps = parts.filter(isTransactionStep);
  if (steps.length === 0) return undefined;
  if (steps.length === parts.length) return fetched;
  const raw = shardEntriesEnvelope(
    fetched.entry.ts,
    steps.map(step => step.raw)
  );
  return { entry: parseOplogEntry(raw), bytes: BSON.calculateObjectSize(raw) };
}

/** A step of a transaction: an `applyOps` of a session, or its commit or abort. */
function isTransactionStep(entry: OplogEntry): boolean {
  return entry.op === 'c' && entry.lsid !== undefined && TRANSACTION_COMMANDS.has(entry.command);
}
