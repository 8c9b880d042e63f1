/**
 * Transactions and `applyOps` in the oplog, and the state machine that turns them back into the
 * plain operations to apply.
 *
 * How mongod logs them (4.2+):
 * - a small transaction: one `applyOps` entry with `lsid`/`txnNumber`, applied at once;
 * - a large one: `applyOps` entries with `partialTxn: true`, linked by `prevOpTime`, then a final
 *   `applyOps` without `partialTxn` (often with `count`): the chain commits at that entry;
 * - a prepared one (cross-shard): the chain ends with `applyOps` + `prepare: true`, then a
 *   `commitTransaction` or `abortTransaction` entry decides its fate;
 * - an unprepared chain can also end in `abortTransaction`;
 * - 7.0 batched deletes and other internal writes: a plain `applyOps` without a session.
 *
 * {@link TransactionAssembler} holds each chain (keyed by session and transaction number) until
 * it commits, so a transaction reaches the target whole or not at all.
 */
import { BSON, type Document, type Timestamp } from 'mongodb';

import {
  type CommandEntry,
  compareOptimes,
  formatOptime,
  isDocument,
  malformed,
  numberOf,
  type OplogEntry,
  parseWithContext
} from './oplog-entry.js';

/** Fields an inner operation of `applyOps` inherits from its outer entry. */
const INHERITED = ['ts', 't', 'wall', 'lsid', 'txnNumber'] as const;

function unwrapInto(entry: CommandEntry, out: OplogEntry[]): void {
  const ops: unknown = entry.o.applyOps;
  if (!Array.isArray(ops)) throw malformed('"applyOps" is not an array', entry.raw);
  for (const [position, op] of ops.entries()) {
    if (!isDocument(op)) {
      throw malformed(`applyOps[${position}] is not a document`, entry.raw);
    }
    const raw: Document = { ...op };
    for (const field of INHERITED) {
      const value: unknown = entry.raw[field];
      if (value !== undefined) raw[field] = value;
    }
    const inner = parseWithContext(raw, { opIndex: out.length });
    if (inner.op === 'c' && inner.command === 'applyOps') unwrapInto(inner, out);
    else out.push(inner);
  }
}

/**
 * The operations inside an `applyOps` entry, in array order (the order mongod applies them in;
 * a transaction may delete and re-insert one `_id`).
 *
 * @remarks
 * Each operation inherits the outer entry's `ts`, `t`, `wall`, `lsid` and `txnNumber`, and gets
 * its position as `opIndex`, so operations sharing one `ts` keep a stable order. Nested
 * `applyOps` are unwrapped in place.
 *
 * @throws {@link UnsupportedOplogEntryError} if `applyOps` or an inner operation is malformed
 * @public
 */
export function unwrapApplyOps(entry: CommandEntry): OplogEntry[] {
  const out: OplogEntry[] = [];
  unwrapInto(entry, out);
  return out;
}

function isApplyOps(entry: OplogEntry): entry is CommandEntry {
  return entry.op === 'c' && entry.command === 'applyOps';
}

/**
 * True for an `applyOps` entry that is part of a transaction chain, not its end: its operations
 * must wait for the commit.
 * @public
 */
export function isPartialTransaction(entry: OplogEntry): entry is CommandEntry {
  return isApplyOps(entry) && entry.o.partialTxn === true;
}

/**
 * True for an entry that commits a transaction: a final (non-partial, non-prepare) `applyOps`
 * of a session, or `commitTransaction` of a prepared transaction.
 * @public
 */
export function isTransactionCommit(entry: OplogEntry): entry is CommandEntry {
  if (entry.op !== 'c') return false;
  if (entry.command === 'commitTransaction') return true;
  return (
    isApplyOps(entry) &&
    entry.lsid !== undefined &&
    entry.o.partialTxn !== true &&
    entry.o.prepare !== true
  );
}

interface Chain {
  readonly firstTs: Timestamp;
  readonly ops: OplogEntry[];
}

/**
 * Command entries that belong to transactions (the {@link TransactionAssembler}), not DDL.
 * @internal
 */
export const TRANSACTION_COMMANDS: ReadonlySet<string> = new Set([
  'applyOps',
  'commitTransaction',
  'abortTransaction'
]);

/**
 * One transaction's key: its session and transaction number.
 * @internal
 */
export function transactionKey(lsid: unknown, txnNumber: unknown): string {
  // Canonical EJSON keeps every lsid field (internal sessions add txnUUID/txnNumber) and types.
  return `${BSON.EJSON.stringify(lsid, { relaxed: false })}#${String(numberOf(txnNumber))}`;
}

function chainKey(entry: CommandEntry): string {
  if (entry.lsid === undefined || entry.txnNumber === undefined) {
    throw malformed('a transaction entry has no lsid or txnNumber', entry.raw);
  }
  return transactionKey(entry.lsid, entry.txnNumber);
}

/** True if the entry points back to an earlier entry of its transaction. */
function continuesChain(entry: CommandEntry): boolean {
  const prev = entry.raw.prevOpTime;
  const ts: unknown = isDocument(prev) ? prev.ts : undefined;
  return (
    ts !== null &&
    typeof ts === 'object' &&
    ts !== undefined &&
    ((ts as Timestamp).t !== 0 || (ts as Timestamp).i !== 0)
  );
}

/**
 * Reassembles transactions from the oplog: `push` each entry in oplog order and apply what it
 * returns, in order.
 *
 * @remarks
 * - CRUD entries, no-ops and DDL pass straight through.
 * - A plain `applyOps` (a one-entry transaction, a batched delete) releases its operations at
 *   once.
 * - `partialTxn` and `prepare` entries are held until the chain's commit (the final `applyOps`,
 *   or `commitTransaction`), which releases the whole chain in order; `abortTransaction` drops it.
 * - Released operations keep the `ts` of the entry that carried them; `opIndex` counts across
 *   the whole chain.
 *
 * Checkpointing: while a chain is held, its operations are not applied yet, so the checkpoint
 * must not move past {@link TransactionAssembler.oldestPendingOptime}: a restart from a later
 * optime would lose the chain's first entries. Resume from that optime and replay; entries before
 * it that were applied already are replayed idempotently.
 *
 * A commit whose earlier entries were never pushed (replication started inside the chain) is an
 * error, not a partial apply.
 * @public
 */
export class TransactionAssembler {
  readonly #chains = new Map<string, Chain>();

  /** How many transaction chains are held, waiting for their commit or abort. */
  get pendingCount(): number {
    return this.#chains.size;
  }

  /**
   * The optime of the first entry of the oldest held chain, or `undefined` if none is held:
   * the checkpoint must not pass it.
   */
  oldestPendingOptime(): Timestamp | undefined {
    let oldest: Timestamp | undefined;
    for (const chain of this.#chains.values()) {
      if (oldest === undefined || compareOptimes(chain.firstTs, oldest) < 0) {
        oldest = chain.firstTs;
      }
    }
    return oldest;
  }

  /**
   * Takes the next oplog entry and returns the operations to apply now, in order (possibly
   * none).
   *
   * @throws {@link UnsupportedOplogEntryError} on a malformed transaction entry, or a commit
   * whose chain started before the first entry pushed
   */
  push(entry: OplogEntry): OplogEntry[] {
    if (entry.op !== 'c') return [entry];
    switch (entry.command) {
      case 'applyOps':
        return this.#applyOps(entry);
      case 'commitTransaction':
        return this.#release(entry, []);
      case 'abortTransaction':
        this.#chains.delete(chainKey(entry));
        return [];
      default:
        return [entry];
    }
  }

  #applyOps(entry: CommandEntry): OplogEntry[] {
    const held = entry.o.partialTxn === true || entry.o.prepare === true;
    // Without a session (7.0 batched deletes, internal writes) there is no chain to join.
    if (!held && (entry.lsid === undefined || entry.txnNumber === undefined)) {
      return unwrapApplyOps(entry);
    }
    if (!held) return this.#release(entry, unwrapApplyOps(entry));
    const key = chainKey(entry);
    let chain = this.#chains.get(key);
    if (chain === undefined) {
      if (continuesChain(entry)) throw this.#startedEarlier(entry);
      chain = { firstTs: entry.ts, ops: [] };
      this.#chains.set(key, chain);
    }
    for (const op of unwrapApplyOps(entry)) chain.ops.push(reindex(op, chain.ops.length));
    return [];
  }

  #release(entry: CommandEntry, last: OplogEntry[]): OplogEntry[] {
    const key = chainKey(entry);
    const chain = this.#chains.get(key);
    if (chain === undefined) {
      if (continuesChain(entry)) throw this.#startedEarlier(entry);
      return last;
    }
    this.#chains.delete(key);
    const ops = chain.ops;
    for (const op of last) ops.push(reindex(op, ops.length));
    return ops;
  }

  #startedEarlier(entry: CommandEntry): Error {
    const prev = entry.raw.prevOpTime as Document;
    return malformed(
      `the transaction's earlier entries (back to ${formatOptime(prev.ts as Timestamp)}) were not seen`,
      entry.raw,
      'Replication started inside a multi-entry transaction; start from an optime before the transaction began'
    );
  }
}

function reindex(op: OplogEntry, opIndex: number): OplogEntry {
  return op.opIndex === opIndex ? op : { ...op, opIndex };
}
