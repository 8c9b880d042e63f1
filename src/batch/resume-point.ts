/**
 * The resume point (checkpoint optime) while transactions are being assembled.
 *
 * A `partialTxn` chain's operations are applied only when its last entry arrives, so until then a
 * checkpoint must not pass the chain's first entry: a restart after it would never see those
 * operations again. {@link ResumePoint} wraps the {@link TransactionAssembler} and remembers,
 * for every chain it starts, the optime of the entry read just before it: a real oplog entry,
 * so a fetcher that checks its resume entry still exists finds it. Re-reading entries between
 * that point and the chain is safe, because every entry is applied idempotently.
 */
import { type Timestamp } from 'mongodb';

import { type CommandEntry, compareOptimes, type OplogEntry } from '../oplog/oplog-entry.js';
import { TransactionAssembler } from '../oplog/transactions.js';
import { justBefore } from '../pipeline/resume-token.js';

/** A held chain's first optime, and the optime to resume from while it is held. */
interface ChainStart {
  readonly first: Timestamp;
  readonly before: Timestamp;
}

/**
 * Tracks the safe checkpoint optime as entries are taken, holding transaction chains through
 * a {@link TransactionAssembler}.
 * @internal
 */
export class ResumePoint {
  readonly #assembler = new TransactionAssembler();
  /** Chains started and maybe still held, in oplog order (so the oldest is in front). */
  readonly #chainStarts: ChainStart[] = [];
  readonly #resumeOptime: Timestamp | undefined;
  /** The last entry fully taken. */
  #last: Timestamp | undefined;
  /** The checkpoint as of `#last`. */
  #checkpoint: Timestamp | undefined;

  /** @param resumeOptime - The optime the input starts after, when known. */
  constructor(resumeOptime: Timestamp | undefined) {
    this.#resumeOptime = resumeOptime;
  }

  /** Transaction chains held, waiting for their commit or abort. */
  get pendingTransactions(): number {
    return this.#assembler.pendingCount;
  }

  /**
   * Passes an `applyOps`, `commitTransaction` or `abortTransaction` entry to the assembler and
   * returns the operations to apply now (see {@link TransactionAssembler.push}).
   */
  pushTransaction(entry: CommandEntry): OplogEntry[] {
    const before = this.#before(entry.ts);
    const held = this.#assembler.pendingCount;
    const released = this.#assembler.push(entry);
    if (this.#assembler.pendingCount > held) this.#chainStarts.push({ first: entry.ts, before });
    return released;
  }

  /** Records that the entry at `ts` has been fully taken into batches (or held). */
  complete(ts: Timestamp): void {
    this.#last = ts;
    this.#checkpoint = this.#compute(ts);
  }

  /**
   * The checkpoint optime as of the last entry completed: that entry's optime, or the one just
   * before the oldest held chain. Before any entry is complete, the optime just before
   * `firstOptime` (the first entry seen).
   */
  checkpoint(firstOptime: Timestamp): Timestamp {
    return this.#checkpoint ?? this.#before(firstOptime);
  }

  /** Where to resume so that `ts` is read again. */
  #before(ts: Timestamp): Timestamp {
    if (this.#last !== undefined) return this.#last;
    // The fetcher may hand over its resume entry itself; resuming "after" it would skip it.
    if (this.#resumeOptime !== undefined && compareOptimes(this.#resumeOptime, ts) < 0) {
      return this.#resumeOptime;
    }
    return justBefore(ts);
  }

  #compute(ts: Timestamp): Timestamp {
    const oldest = this.#assembler.oldestPendingOptime();
    if (oldest === undefined) {
      this.#chainStarts.length = 0;
      return ts;
    }
    // Chains that started before the oldest held one have all ended.
    let drop = 0;
    while (
      drop < this.#chainStarts.length &&
      compareOptimes(this.#chainStarts[drop]!.first, oldest) < 0
    ) {
      drop += 1;
    }
    if (drop > 0) this.#chainStarts.splice(0, drop);
    const front = this.#chainStarts[0];
    return front !== undefined && compareOptimes(front.first, oldest) === 0
      ? front.before
      : justBefore(oldest);
  }
}
