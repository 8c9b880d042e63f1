/**
 * The batch {@link ReplBatcher} is filling: its operations, its byte total, how many entries it
 * covers without writing anything, and the span of optimes it covers.
 */
import { type Timestamp } from 'mongodb';

import { type CrudOp, type SkippedOperations } from '../pipeline/pipeline-items.js';

type MutableSkipped = { -readonly [K in keyof SkippedOperations]: number };

/**
 * What {@link PendingBatch.take} hands over.
 * @internal
 */
export interface TakenBatch {
  /** The operations, in source order. */
  readonly ops: CrudOp[];
  /** Their BSON bytes. */
  readonly bytes: number;
  /** Entries or operations covered with nothing to write. */
  readonly skipped: number;
  /** Of `skipped`, those `filter.skip` named, by kind; undefined when none. */
  readonly skippedOperations: SkippedOperations | undefined;
  /** Optime of the first entry covered. */
  readonly firstOptime: Timestamp;
  /** Optime of the last entry covered. */
  readonly lastOptime: Timestamp;
}

/**
 * An accumulating batch. It is "empty" until it covers an entry (an operation, a skipped entry,
 * or a transaction entry that is held), and the fill timer starts then.
 * @internal
 */
export class PendingBatch {
  #ops: CrudOp[] = [];
  #bytes = 0;
  #skipped = 0;
  #skippedOperations: MutableSkipped | undefined;
  #first: Timestamp | undefined;
  #last: Timestamp | undefined;
  #startedAt = 0;

  /** True while the batch covers no entry at all. */
  get isEmpty(): boolean {
    return this.#first === undefined;
  }

  /** Operations held. */
  get opCount(): number {
    return this.#ops.length;
  }

  /** Bytes of the operations held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** `performance.now()` when the batch covered its first entry. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** Appends operations (one unit that must not be split) covering optime `ts`. */
  add(ops: readonly CrudOp[], bytes: number, ts: Timestamp): void {
    if (ops.length === 0) return;
    for (const op of ops) this.#ops.push(op);
    this.#bytes += bytes;
    this.cover(ts);
  }

  /** Appends one operation; the caller covers its optime. */
  addOne(op: CrudOp, bytes: number): void {
    this.#ops.push(op);
    this.#bytes += bytes;
  }

  /** Counts an entry or operation that has nothing to write. */
  skip(ts: Timestamp): void {
    this.#skipped += 1;
    this.cover(ts);
  }

  /** Counts an operation `filter.skip` keeps from the target. */
  skipOperation(kind: keyof SkippedOperations, ts: Timestamp): void {
    this.#skippedOperations ??= { inserts: 0, updates: 0, deletes: 0, commands: 0 };
    this.#skippedOperations[kind] += 1;
    this.skip(ts);
  }

  /** Extends the covered span to `ts` (optimes arrive in order). */
  cover(ts: Timestamp): void {
    if (this.#first === undefined) {
      this.#first = ts;
      this.#startedAt = performance.now();
    }
    this.#last = ts;
  }

  /** Hands the batch over and starts an empty one; `undefined` if it covers nothing. */
  take(): TakenBatch | undefined {
    if (this.#first === undefined || this.#last === undefined) return undefined;
    const taken: TakenBatch = {
      ops: this.#ops,
      bytes: this.#bytes,
      skipped: this.#skipped,
      skippedOperations: this.#skippedOperations,
      firstOptime: this.#first,
      lastOptime: this.#last
    };
    this.#ops = [];
    this.#bytes = 0;
    this.#skipped = 0;
    this.#skippedOperations = undefined;
    this.#first = undefined;
    this.#last = undefined;
    return taken;
  }
}
