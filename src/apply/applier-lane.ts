/**
 * ApplierLane: applies the ops one lane of the {@link HashedApplierPool} owns, in order.
 *
 * Every document lives in exactly one lane, so a lane never waits on another and needs no
 * locks. Its ops become runs ({@link planLane}): consecutive inserts of one namespace → one
 * unordered `insertMany`, whose duplicate `_id`s are replaced (upserted) in order as a
 * secondary does; everything else → one ordered `bulkWrite` per namespace, written by a
 * {@link RunWriter} (which also counts misses and applies the conflict policy). Each run is
 * retried on its own when the target fails transiently; replaying a run is safe because every
 * model is idempotent (DESIGN §3).
 */
import { type MongoBulkWriteError, type Timestamp } from 'mongodb';

import {
  DUPLICATE_KEY_CODES,
  unwrapBulkError,
  writeErrorsOf
} from '../lifecycle/bulk-write-errors.js';
import { type TargetWriteOptions, targetWriteOptions } from '../lifecycle/write-options.js';
import { insertAsReplacement } from '../oplog/crud-ops.js';
import { type InsertEntry } from '../oplog/oplog-entry.js';
import { type CrudOp } from '../pipeline/pipeline-items.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { type ApplyCounts, emptyCounts } from './apply-outcome.js';
import { type LaneRun, planLane } from './lane-plan.js';
import { fatalWriteError, RunWriter, type RunWriterOptions } from './run-writer.js';
import { UniqueConflict, uniqueConflictOf } from './unique-conflict.js';

export {
  type ApplierConflictEvent,
  type ApplyCounts,
  type ConflictAction,
  type ConflictPolicy,
  emptyCounts
} from './apply-outcome.js';
export { type LaneRetry } from './run-writer.js';

/**
 * What an {@link ApplierLane} needs; the pool resolves and validates it, and hands the same
 * options to its {@link TransactionApplier}.
 * @internal
 */
export interface ApplierLaneOptions extends RunWriterOptions {
  /** Misses at or before this optime are expected (catch-up after a full copy). */
  readonly catchUpUntil: Timestamp | undefined;
  /** The rate limit and pause gate each write passes; none: writes are not gated. */
  readonly throttle: WriteThrottle | undefined;
}

/**
 * What a lane did with its share of a batch: the counts, and the unique conflict that stopped it
 * (the pool then applies the batch again in source order).
 * @internal
 */
export interface LaneShare {
  readonly counts: ApplyCounts;
  readonly conflict: UniqueConflict | undefined;
}

/**
 * Applies one lane's share of each batch.
 * @internal
 */
export class ApplierLane {
  readonly #options: ApplierLaneOptions;
  readonly #writer: RunWriter;
  readonly #writeOptions: TargetWriteOptions;

  /**
   * @param index - The lane's number, for operation names in logs and `retry` events.
   * @param options - Resolved options.
   */
  constructor(
    readonly index: number,
    options: ApplierLaneOptions
  ) {
    this.#options = options;
    this.#writer = new RunWriter(`lane ${index}`, options);
    this.#writeOptions = targetWriteOptions(options);
  }

  /**
   * Applies `ops` (this lane's ops of one batch, in source order). Checks `signal` between
   * runs: stopping there is safe, the batch is simply not checkpointed. With a throttle, each
   * run is cut to fit the rate limit and waits for it (and for a pause to end);
   * `bytesPerOp` is what one op counts against a bytes limit.
   */
  async apply(ops: readonly CrudOp[], signal: AbortSignal, bytesPerOp = 0): Promise<LaneShare> {
    const counts = emptyCounts();
    const { throttle } = this.#options;
    for (const run of planLane(ops, this.#options.catchUpUntil)) {
      signal.throwIfAborted();
      try {
        if (throttle === undefined) await this.#applyRun(run, counts);
        else {
          for (const piece of throttle.split(run.ops, () => bytesPerOp)) {
            const part = piece === run.ops ? run : { ...run, ops: piece };
            await throttle.write(piece.length, piece.length * bytesPerOp, signal, () =>
              this.#applyRun(part, counts)
            );
          }
        }
      } catch (error) {
        // The rest of this share is applied again, in source order, by the pool.
        if (error instanceof UniqueConflict) return { counts, conflict: error };
        throw error;
      }
    }
    return { counts, conflict: undefined };
  }

  #applyRun(run: LaneRun, counts: ApplyCounts): Promise<void> {
    return run.kind === 'insert' ? this.#insertRun(run, counts) : this.#writer.write(run, counts);
  }

  async #insertRun(run: LaneRun, counts: ApplyCounts): Promise<void> {
    const collection = this.#writer.collection(run.ns);
    const documents = run.ops.map(op => op.entry.o);
    const duplicates = await this.#options.retry(
      `insertMany ${run.ns} (lane ${this.index})`,
      async () => {
        this.#options.beforeWrite();
        try {
          await collection.insertMany(documents, { ordered: false, ...this.#writeOptions });
          return [];
        } catch (error) {
          return duplicateIndexes(unwrapBulkError(error), run);
        }
      }
    );
    if (duplicates.length > 0) {
      // A secondary retries a duplicate insert as a replacement; the run's documents are distinct
      // (a second insert of one _id needs a delete in between, which ends the run), so the
      // order among them does not matter, but keep it anyway.
      const ops = duplicates.map(index => run.ops[index]!);
      const models = ops.map(op => insertAsReplacement(op.entry as InsertEntry));
      await this.#options.retry(`replace duplicates ${run.ns} (lane ${this.index})`, () =>
        this.#writer.bulkWrite(collection, run.ns, ops, models)
      );
      counts.upserts += duplicates.length;
    }
    counts.inserts += run.ops.length;
  }
}

/**
 * The indexes of an unordered insert's duplicate `_id` failures; a duplicate on a unique
 * secondary index is a {@link UniqueConflict}; anything else is rethrown.
 */
function duplicateIndexes(error: unknown, run: LaneRun): number[] {
  const writeErrors = writeErrorsOf(error);
  if (writeErrors.length === 0) throw error;
  for (const writeError of writeErrors) {
    const conflict = uniqueConflictOf(writeError, run.ns);
    if (conflict !== undefined) throw conflict;
  }
  const other = writeErrors.find(e => !DUPLICATE_KEY_CODES.has(e.code));
  if (other !== undefined) throw fatalWriteError(other, run.ops, run.ns, error);
  // A write-concern failure as well: retry the whole run (duplicates are handled next time).
  if ((error as MongoBulkWriteError).result?.getWriteConcernError() !== undefined) throw error;
  return writeErrors.map(e => e.index).sort((a, b) => a - b);
}
