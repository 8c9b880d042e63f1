/**
 * The merge of several shards' oplogs into one stream in cluster-time order, kept pure (no I/O)
 * so that it is unit-tested with made-up shards.
 *
 * An entry is released once no shard can still deliver an older one: every other shard either
 * holds a newer entry already or has fetched through its optime (idle shards move forward with
 * mongod's periodic no-ops). Entries of several shards at one optime (shards draw timestamps from
 * clocks of their own, so this happens) become one entry, because optimes name positions in the
 * spool and the checkpoint and must be unique: an envelope that carries them whole, taken apart
 * by the batcher (oplog/shard-entries.ts). The parts of a cross-shard transaction each end with a `commitTransaction` on their
 * shard; the first releases the whole transaction (every part was prepared before any commit),
 * the others are dropped.
 */
import { BSON, type Timestamp } from 'mongodb';

import { shardCollectionEntry } from '../oplog/ddl-ops.js';
import { compareOptimes, type OplogEntry, parseOplogEntry } from '../oplog/oplog-entry.js';
import { shardEntriesEnvelope } from '../oplog/shard-entries.js';
import { transactionKey } from '../oplog/transactions.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';

/** Transaction decisions remembered to drop the other participants' ones. */
const DECISIONS_KEPT = 100_000;

/**
 * What one {@link ShardMerge.next} call found.
 * @internal
 */
export type MergeStep =
  | { readonly kind: 'entry'; readonly fetched: FetchedEntry; readonly merged: number }
  | { readonly kind: 'dropped'; readonly ts: Timestamp }
  | { readonly kind: 'wait' };

const WAIT: MergeStep = Object.freeze({ kind: 'wait' });

/**
 * The heads of every shard's stream and the rule that releases them in order.
 * @internal
 */
export class ShardMerge {
  readonly #shards: string[];
  readonly #heads: (FetchedEntry | undefined)[];
  /** Transactions (`lsid#txnNumber`) whose decision was released. */
  readonly #decided = new Set<string>();

  constructor(shards: readonly string[]) {
    this.#shards = [...shards];
    this.#heads = shards.map(() => undefined);
  }

  /** Adds a shard (one that joined the cluster); returns its index. */
  addShard(id: string): number {
    this.#heads.push(undefined);
    this.#shards.push(id);
    return this.#shards.length - 1;
  }

  /** Whether shard `index` has no entry waiting (the next of its stream is wanted). */
  needs(index: number): boolean {
    return this.#heads[index] === undefined;
  }

  /** Hands over shard `index`'s next entry; its previous one must have been released. */
  offer(index: number, fetched: FetchedEntry): void {
    if (this.#heads[index] !== undefined) {
      throw new Error(`shard-merge: ${this.#shards[index]} already has an entry waiting`);
    }
    this.#heads[index] = fetched;
  }

  /**
   * The next entry in cluster-time order, if every shard without a waiting entry has fetched
   * through its optime (`fetchedThrough(index)`), else `wait`; `dropped` for the decision of a
   * transaction already released through another shard.
   */
  next(fetchedThrough: (index: number) => Timestamp | undefined): MergeStep {
    let oldest: Timestamp | undefined;
    for (const head of this.#heads) {
      if (
        head !== undefined &&
        (oldest === undefined || compareOptimes(head.entry.ts, oldest) < 0)
      ) {
        oldest = head.entry.ts;
      }
    }
    if (oldest === undefined) return WAIT;
    for (const [index, head] of this.#heads.entries()) {
      if (head !== undefined) continue;
      const through = fetchedThrough(index);
      if (through === undefined || compareOptimes(through, oldest) < 0) return WAIT;
    }
    const group: { shard: string; fetched: FetchedEntry }[] = [];
    for (const [index, head] of this.#heads.entries()) {
      if (head === undefined || compareOptimes(head.entry.ts, oldest) !== 0) continue;
      this.#heads[index] = undefined;
      if (!this.#isRepeatedDecision(head.entry))
        group.push({ shard: this.#shards[index]!, fetched: head });
    }
    if (group.length === 0) return { kind: 'dropped', ts: oldest };
    return { kind: 'entry', fetched: mergeOneOptime(group), merged: group.length };
  }

  /** True for a commit or abort of a transaction whose decision another shard already gave. */
  #isRepeatedDecision(entry: OplogEntry): boolean {
    if (entry.op !== 'c') return false;
    if (entry.command !== 'commitTransaction' && entry.command !== 'abortTransaction') return false;
    if (entry.lsid === undefined || entry.txnNumber === undefined) return false;
    const key = transactionKey(entry.lsid, entry.txnNumber);
    if (this.#decided.has(key)) return true;
    this.#decided.add(key);
    if (this.#decided.size > DECISIONS_KEPT) {
      const first = this.#decided.values().next();
      if (first.done !== true) this.#decided.delete(first.value);
    }
    return false;
  }
}

/**
 * One entry for the entries several shards logged at one optime: the one that is not a no-op (a
 * shard's `shardCollection` record counts as one), or the envelope that carries them all whole
 * (`oplog/shard-entries.ts`), in shard order.
 * @internal
 */
export function mergeOneOptime(
  group: readonly { readonly shard: string; readonly fetched: FetchedEntry }[]
): FetchedEntry {
  if (group.length === 1) return group[0]!.fetched;
  const writes = group.filter(
    ({ fetched }) => fetched.entry.op !== 'n' || shardCollectionEntry(fetched.entry) !== undefined
  );
  if (writes.length === 0) return group[0]!.fetched;
  if (writes.length === 1) return writes[0]!.fetched;
  const raw = shardEntriesEnvelope(
    writes[0]!.fetched.entry.ts,
    writes.map(({ fetched }) => fetched.entry.raw)
  );
  return { entry: parseOplogEntry(raw), bytes: BSON.calculateObjectSize(raw) };
}
