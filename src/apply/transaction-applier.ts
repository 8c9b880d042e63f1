/**
 * TransactionApplier: applies one source transaction (a {@link TxnBatch}) as one target
 * transaction, so that a reader of the target sees all of its writes or none.
 *
 * The rules are the lanes' (DESIGN §3), with one change forced by the transaction: a duplicate
 * `_id` error would abort the whole target transaction, so inserts are not tried as inserts
 * first but written as replace-upserts at once ({@link insertAsReplacement}), which is what a
 * secondary does on a duplicate anyway. The ops run in source order, one ordered `bulkWrite` per
 * stretch of one namespace ({@link planTransaction}), by the same {@link RunWriter} as the lanes,
 * so misses and conflicts are counted and handled exactly as there.
 *
 * Retries: an error labelled `TransientTransactionError` (a write conflict, a lost connection)
 * makes `withTransaction` run the whole transaction again, and an unknown commit result makes it
 * retry the commit. Any other retryable failure is retried around the whole transaction with the
 * pool's backoff. Every attempt starts from scratch (an aborted transaction leaves nothing), so
 * its counts and conflicts are the last attempt's; conflict events are emitted once, after the
 * commit (or, for the `fail` policy, just before the error is thrown).
 */
import {
  type ClientSession,
  MongoServerError,
  type TransactionOptions,
  WriteConcern
} from 'mongodb';

import { ApplyConflictError, TargetWriteError } from '../errors.js';
import { describeFailure } from '../lifecycle/side-errors.js';
import { formatOptime } from '../oplog/oplog-entry.js';
import { type TxnBatch } from '../pipeline/pipeline-items.js';
import { type ApplierLaneOptions } from './applier-lane.js';
import { type ApplierConflictEvent, type ApplyCounts, emptyCounts } from './apply-outcome.js';
import { planTransaction } from './lane-plan.js';
import { type LaneRetry, RunWriter } from './run-writer.js';

/**
 * What a {@link TransactionApplier} needs: the lanes' options, since the pool hands both the
 * same. `writeConcern` is the transaction's (the client's when undefined), and `onConflict`
 * receives each conflict once the transaction committed (or just before `fail` throws).
 * @internal
 */
export type TransactionApplierOptions = ApplierLaneOptions;

/** mongod's answer to a transaction on a standalone server. */
const ILLEGAL_OPERATION = 20;

/** A target that cannot run transactions at all, as an error that says what to do instead. */
function transactionsRefused(error: unknown, batch: TxnBatch): TargetWriteError | undefined {
  if (!(error instanceof MongoServerError) || error.code !== ILLEGAL_OPERATION) return undefined;
  return new TargetWriteError(`The target refused a transaction${describeFailure(error)}`, false, {
    optime: batch.lastOptime,
    cause: error,
    hint: "transactions: 'preserve' needs a replica set or sharded cluster as the target; use 'flatten' with a standalone server"
  });
}

/** Inside a transaction nothing is retried on its own: a failed statement aborts it all. */
const ONE_ATTEMPT: LaneRetry = (_operation, fn) => fn(1);

/**
 * Applies `txn` batches, each in one target transaction.
 * @internal
 */
export class TransactionApplier {
  readonly #options: TransactionApplierOptions;
  readonly #transactionOptions: TransactionOptions;

  /** @param options - Resolved options. */
  constructor(options: TransactionApplierOptions) {
    this.#options = options;
    const writeConcern =
      options.writeConcern === undefined
        ? undefined
        : WriteConcern.fromOptions({ writeConcern: options.writeConcern });
    this.#transactionOptions = writeConcern === undefined ? {} : { writeConcern };
  }

  /**
   * Applies the batch's writes in one target transaction and returns what they did. Checks
   * `signal` between runs; stopping there aborts the transaction, so nothing of it is written.
   * With a throttle, the whole transaction waits for the rate limit (it cannot be cut) and for
   * a pause to end.
   */
  apply(batch: TxnBatch, signal: AbortSignal): Promise<ApplyCounts> {
    const { throttle } = this.#options;
    if (throttle === undefined) return this.#apply(batch, signal);
    return throttle.write(batch.ops.length, batch.bytes, signal, () => this.#apply(batch, signal));
  }

  async #apply(batch: TxnBatch, signal: AbortSignal): Promise<ApplyCounts> {
    const runs = planTransaction(batch.ops, this.#options.catchUpUntil);
    const operation = `transaction of ${batch.ops.length} op(s) at ${formatOptime(batch.lastOptime)}`;
    return this.#options.retry(operation, async () => {
      let counts = emptyCounts();
      let conflicts: ApplierConflictEvent[] = [];
      const writer = new RunWriter('transaction', {
        ...this.#options,
        retry: ONE_ATTEMPT,
        onConflict: event => conflicts.push(event)
      });
      const session: ClientSession = this.#options.target.startSession();
      try {
        await session.withTransaction(async () => {
          // withTransaction may run this again: start each attempt from scratch.
          counts = emptyCounts();
          conflicts = [];
          for (const run of runs) {
            signal.throwIfAborted();
            await writer.write(run, counts, session);
          }
          // The commit is a write too.
          this.#options.beforeWrite();
        }, this.#transactionOptions);
      } catch (error) {
        if (error instanceof ApplyConflictError) this.#report(conflicts);
        throw transactionsRefused(error, batch) ?? error;
      } finally {
        await session.endSession();
      }
      this.#report(conflicts);
      return counts;
    });
  }

  #report(conflicts: readonly ApplierConflictEvent[]): void {
    for (const event of conflicts) this.#options.onConflict(event);
  }
}
