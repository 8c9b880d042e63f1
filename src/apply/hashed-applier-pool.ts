/**
 * HashedApplierPool: applies batches from the ReplBatcher to the target, N lanes at a time, the
 * way a MongoDB secondary's writer threads do.
 *
 * Lane rule: each CRUD op goes to lane `murmur3(_id, seed = murmur3(ns)) mod lanes`
 * ({@link laneOf}), so every op of one document lands in one lane and keeps its order there
 * without locks; documents MongoDB considers equal (`_id` 1, 1.0, Long 1) share a lane. Inside a
 * lane, ops are stable-sorted by namespace and grouped into as few round trips as possible
 * ({@link ApplierLane}).
 *
 * Ordering rule: up to `maxBatchesInFlight` CRUD batches are applied at once, each lane taking
 * its share of the next batch as soon as it has finished its share of the previous one (a lane
 * never waits for a slower sibling, and the target always has work queued while the next
 * batch's writes are being prepared). A batch is complete once every lane has finished its
 * share of it and of every earlier batch; `applied` is emitted with its `checkpointOptime` only
 * then, in batch order. So a checkpoint written from an `applied` event names a position where
 * everything before it is on the target. A DDL batch waits until every earlier batch is
 * complete, runs alone, and only then are later batches started. A `txn` batch (one source
 * transaction, `transactions: 'preserve'`) waits the same way and is written in one target
 * transaction ({@link TransactionApplier}), so a reader of the target never sees half of it. A
 * `progress` batch writes nothing but is still reported, in order, so the checkpoint advances on
 * quiet streams.
 *
 * Unique secondary indexes: lanes reorder writes of different documents, so a value moving from
 * one document to another can collide on a unique index for a moment. A lane that meets such a
 * duplicate stops its share; the pool then dispatches nothing new, lets every batch in flight
 * finish, and has the {@link UniqueIndexGuard} apply those batches again in source order with the
 * index relaxed, enforcing it again once the target is consistent (unique-guard.ts). The batches
 * are reported only then.
 *
 * Stopping: `stop()` closes the input (upstream pushes now resolve `false`), applies what is
 * still queued, then ends. A forced stop (the `signal` option) ends at the next safe point,
 * between two runs of a lane: the unfinished batch is not reported, so it is not checkpointed,
 * and replaying it after a restart is idempotent.
 */
import { setMaxListeners } from 'node:events';

import { type Document, type Timestamp } from 'mongodb';

import { UniqueIndexes } from '../catalog/unique-indexes.js';
import { type ReplicationError } from '../errors.js';
import { sideError } from '../lifecycle/side-errors.js';
import { Stage, type StageEvents } from '../lifecycle/stage.js';
import { compareOptimes } from '../oplog/oplog-entry.js';
import {
  type ApplyBatch,
  type CrudBatch,
  type DdlBatch,
  type SkippedOperations
} from '../pipeline/pipeline-items.js';
import { ApplierLane, type LaneShare } from './applier-lane.js';
import {
  addCounts,
  type ApplierConflictEvent,
  type ApplyCounts,
  emptyCounts
} from './apply-outcome.js';
import { DdlApplier } from './ddl-applier.js';
import {
  type HashedApplierPoolOptions,
  type ResolvedHashedApplierPoolOptions,
  resolveHashedApplierPoolOptions
} from './hashed-applier-pool-options.js';
import { routeToLanes } from './lane-plan.js';
import { RunWriter } from './run-writer.js';
import { TransactionApplier } from './transaction-applier.js';
import { type UniqueConflict } from './unique-conflict.js';
import { type UniqueIndexEvent, UniqueIndexGuard } from './unique-guard.js';

export {
  type ApplierConflictEvent,
  type ApplyCounts,
  type ConflictAction,
  type ConflictPolicy
} from './apply-outcome.js';
export {
  hashedApplierPoolDefaults,
  type HashedApplierPoolOptions,
  readApplierSettings,
  type ResolvedHashedApplierPoolOptions,
  resolveHashedApplierPoolOptions
} from './hashed-applier-pool-options.js';

/**
 * Payload of the `applied` event: one batch is on the target, in every lane, after every
 * earlier batch. Its `checkpointOptime` may now be recorded.
 * @public
 */
export interface AppliedBatchEvent extends Readonly<ApplyCounts> {
  /** The kind of batch. */
  readonly kind: ApplyBatch['kind'];
  /** Ops written: CRUD ops (of a `crud` or `txn` batch), or 1 for a DDL command, 0 for progress. */
  readonly ops: number;
  /** Source entries the batch covered that had nothing to apply. */
  readonly skipped: number;
  /** Of `skipped`, the operations `filter.skip` kept from the target; absent when none. */
  readonly skippedOperations?: SkippedOperations;
  /** DDL commands the target reported as already done (re-applied after a restart). */
  readonly alreadyApplied: number;
  /** The optime of the batch's last entry. */
  readonly lastOptime: Timestamp;
  /** The optime a checkpoint may now record. */
  readonly checkpointOptime: Timestamp;
  /**
   * The change-stream resume token naming the same position as `checkpointOptime`, when the
   * batch has one ({@link ApplyBatchBase.resumeToken}); a checkpoint may record it too.
   */
  readonly resumeToken?: Document;
  /** Time the batch took to apply, in milliseconds. */
  readonly durationMs: number;
}

/**
 * Events of {@link HashedApplierPool}.
 * @public
 */
export interface HashedApplierPoolEvents extends StageEvents {
  /**
   * A batch is applied everywhere, in order; record `checkpointOptime` from here (and only from
   * here).
   */
  applied: (event: AppliedBatchEvent) => void;
  /**
   * After catch-up, an update or delete matched no document; emitted once the policy's action
   * is done (or, for `fail`, just before the pool fails).
   */
  conflict: (event: ApplierConflictEvent) => void;
  /**
   * A unique secondary index of the target was relaxed (non-unique while the target may be
   * inconsistent), enforced again, or left relaxed by `uniqueConflictPolicy: 'ignore'`.
   */
  uniqueIndex: (event: UniqueIndexEvent) => void;
}

/**
 * Applies {@link ApplyBatch}es to the target with N hashed lanes, several batches at a time but
 * every document's ops in order, and reports each applied batch, in order, so its checkpoint can
 * be written.
 *
 * @remarks
 * Apply rules follow DESIGN §3: inserts are grouped into unordered `insertMany` (a duplicate
 * `_id` becomes a replace-upsert), updates and deletes are ordered `bulkWrite`s, DDL runs alone
 * with "already done" errors treated as success, a `txn` batch runs alone in one target
 * transaction (inserts as replace-upserts there), and misses after `catchUpUntil` are conflicts
 * handled per `conflictPolicy`. Transient target failures are retried with backoff (each a
 * `retry` event); anything else fails the stage with a {@link TargetWriteError} or
 * {@link ApplyConflictError}.
 *
 * @example
 * ```ts
 * const pool = new HashedApplierPool({ input: batches, target, source, conflictPolicy: 'upsert' });
 * pool.on('applied', e => checkpoints.advance(e.checkpointOptime));
 * pool.on('conflict', c => log.warn('conflict', c));
 * await pool.start();
 * // …
 * await pool.stop(); // closes `batches`, applies what is queued
 * ```
 * @public
 */
export class HashedApplierPool extends Stage<HashedApplierPoolEvents> {
  /** The resolved options. */
  readonly options: Readonly<ResolvedHashedApplierPoolOptions>;
  readonly #lanes: ApplierLane[];
  readonly #transactions: TransactionApplier;
  readonly #ddl: DdlApplier;
  readonly #guard: UniqueIndexGuard;
  /** CRUD batches dispatched and not yet reported, with their lanes' shares. */
  readonly #inFlight = new Map<number, { batch: CrudBatch; shares: Promise<LaneShare[]> }>();
  #dispatched = 0;
  /** The first batch (number) whose lanes met a unique conflict, and what they met. */
  #conflictFrom: number | undefined;
  readonly #conflicts: UniqueConflict[] = [];
  #resolving: Promise<void> | undefined;
  readonly #totals: ApplyCounts & { batches: number; alreadyApplied: number } = {
    ...emptyCounts(),
    batches: 0,
    alreadyApplied: 0
  };
  #loopEnded: Promise<void> | undefined;

  /**
   * @param options - See {@link HashedApplierPoolOptions}.
   * @throws {@link InvalidConfigError} for an invalid option (before any I/O)
   */
  constructor(options: HashedApplierPoolOptions) {
    super('hashed-applier-pool', options);
    this.options = resolveHashedApplierPoolOptions(options);
    const { target, source, conflictPolicy, catchUpUntil, writeConcern, lanes, throttle } =
      this.options;
    const { beforeWrite } = this.options;
    const applierOptions = {
      target,
      source,
      conflictPolicy,
      catchUpUntil,
      throttle,
      writeConcern,
      bypassDocumentValidation: this.options.bypassDocumentValidation,
      beforeWrite,
      logger: this.logger,
      retry: <T>(operation: string, fn: (attempt: number) => Promise<T>) =>
        this.retry(operation, fn, this.options.retry),
      onConflict: (event: ApplierConflictEvent) => {
        if (this.listenerCount('conflict') > 0) this.safeEmit('conflict', event);
      }
    };
    this.#lanes = Array.from(
      { length: lanes },
      (_, index) => new ApplierLane(index, applierOptions)
    );
    this.#transactions = new TransactionApplier(applierOptions);
    this.#ddl = new DdlApplier(applierOptions);
    const window = [catchUpUntil, this.options.replayUntil].filter(t => t !== undefined);
    const { uniqueIndexes, onUniqueIndexes } = this.options;
    this.#guard = new UniqueIndexGuard({
      indexes: new UniqueIndexes(target, beforeWrite),
      writer: new RunWriter('replay', applierOptions),
      policy: this.options.uniqueConflictPolicy,
      windowEnd: window.sort(compareOptimes).at(-1),
      relaxed: uniqueIndexes.relaxedIndexes,
      ordered: uniqueIndexes.orderedNamespaces,
      onChange: state => onUniqueIndexes?.(state) ?? Promise.resolve(),
      onEvent: event => this.safeEmit('uniqueIndex', event),
      logger: this.logger
    });
  }

  /** Counts since start: batches applied and the sums of their {@link AppliedBatchEvent} counts. */
  get stats(): Readonly<ApplyCounts & { batches: number; alreadyApplied: number }> {
    return { ...this.#totals };
  }

  /** Nothing to open: the host connected the clients. */
  protected async open(): Promise<void> {}

  /** Applies batches until the input is closed and empty, or `signal` aborts. */
  protected run(signal: AbortSignal): Promise<void> {
    // Every lane's retry waits listen to this signal at once; that is expected, not a leak.
    setMaxListeners(this.options.lanes * 4 + 16, signal);
    this.#loopEnded = this.#loop(signal);
    return this.#loopEnded;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const input = this.options.input;
    // A failing lane aborts this, which stops every lane of every batch in flight at its next
    // run and the wait for input, so the failure surfaces promptly.
    const failure = new AbortController();
    const laneSignal = AbortSignal.any([signal, failure.signal]);
    setMaxListeners(this.options.lanes * 4 + 16, laneSignal);
    const tails: Promise<unknown>[] = this.#lanes.map(() => Promise.resolve());
    // One promise per batch in flight, settling in batch order once the batch is reported.
    const inFlight: Promise<void>[] = [];
    let reported: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        while (inFlight.length >= this.options.maxBatchesInFlight) await inFlight.shift();
        const batch = await input.shift(laneSignal);
        if (batch === undefined) break; // closed and empty
        // Batches replayed for a unique conflict reach the target before anything newer.
        if (this.#conflictFrom !== undefined) await this.#resolveConflicts(laneSignal);
        const started = performance.now();
        if (batch.kind === 'ddl') {
          await reported; // after every earlier write, and before any later one starts
          const alreadyApplied = (await this.#applyDdl(batch, laneSignal)) ? 0 : 1;
          await this.#guard.enforceIfDue(batch.checkpointOptime);
          this.#report(batch, emptyCounts(), 1, alreadyApplied, started);
          continue;
        }
        if (batch.kind === 'txn') {
          await reported; // likewise: the transaction sees every earlier write, and only those
          const counts = await this.#guard.withRelaxing(() =>
            this.#transactions.apply(batch, laneSignal)
          );
          await this.#guard.enforceIfDue(batch.checkpointOptime);
          this.#report(batch, counts, batch.ops.length, 0, started);
          continue;
        }
        const dispatched =
          batch.kind === 'crud'
            ? this.#dispatchCrud(batch, tails, laneSignal, failure)
            : { number: 0, applied: Promise.resolve(emptyCounts()) };
        const previous = reported;
        reported = Promise.all([previous, dispatched.applied]).then(async ([, counts]) => {
          // Enforced before the batch is reported: once a batch past the window is applied (or
          // checkpointed, or awaited by a fence), its unique indexes are unique again.
          await this.#guard.enforceIfDue(batch.checkpointOptime);
          this.#report(batch, counts, batch.kind === 'crud' ? batch.ops.length : 0, 0, started);
          // Until reported, a batch is replayed with any earlier one that meets a conflict.
          this.#inFlight.delete(dispatched.number);
        });
        // A failure while reporting (enforcing a unique index) stops the lanes and the wait for
        // input at once; the chain itself is awaited below or at the end.
        reported.catch((error: unknown) => failure.abort(error));
        inFlight.push(reported);
      }
      await reported;
    } catch (error) {
      // Prefer the stage's own abort reason, then the lane failure that stopped the rest.
      signal.throwIfAborted();
      if (failure.signal.aborted) throw failure.signal.reason;
      throw error;
    }
  }

  /** Takes no new input and waits until what is queued has been applied. */
  protected drain(): Promise<void> {
    this.options.input.close();
    return this.#loopEnded ?? Promise.resolve();
  }

  /** Anything not already typed is a {@link TargetWriteError}, retryable per classifyError. */
  protected toReplicationError(error: unknown): ReplicationError {
    return sideError('target', error, { action: 'Applying to the target' });
  }

  /** Adds a finished batch to the totals and emits `applied`. */
  #report(
    batch: ApplyBatch,
    counts: ApplyCounts,
    ops: number,
    alreadyApplied: number,
    started: number
  ): void {
    const totals = this.#totals;
    addCounts(totals, counts);
    totals.batches++;
    totals.alreadyApplied += alreadyApplied;
    if (this.listenerCount('applied') === 0) return;
    this.safeEmit('applied', {
      kind: batch.kind,
      ops,
      ...counts,
      skipped: batch.skipped,
      ...(batch.skippedOperations ? { skippedOperations: batch.skippedOperations } : {}),
      alreadyApplied,
      lastOptime: batch.lastOptime,
      checkpointOptime: batch.checkpointOptime,
      ...(batch.resumeToken === undefined ? {} : { resumeToken: batch.resumeToken }),
      durationMs: performance.now() - started
    });
  }

  /**
   * Queues each lane's share of the batch behind that lane's share of earlier batches. `applied`
   * resolves with the batch's counts once every lane has finished its share — and, when some lane
   * met a unique conflict in this batch or an earlier unreported one, once those batches have
   * been applied again in source order.
   */
  #dispatchCrud(
    batch: CrudBatch,
    tails: Promise<unknown>[],
    signal: AbortSignal,
    failure: AbortController
  ): { number: number; applied: Promise<ApplyCounts> } {
    const number = ++this.#dispatched;
    const routed = routeToLanes(batch.ops, this.#lanes.length, this.#guard.ordered);
    // What one op counts against a bytes limit: the batch's average (sizing each op would
    // decode entries that are otherwise only decoded by the write itself).
    const bytesPerOp = batch.ops.length === 0 ? 0 : batch.bytes / batch.ops.length;
    const shares: Promise<LaneShare>[] = [];
    routed.forEach((ops, index) => {
      if (ops.length === 0) return;
      const share = tails[index]!.then(() =>
        this.#lanes[index]!.apply(ops, signal, bytesPerOp)
      ).then(
        result => {
          if (result.conflict !== undefined) {
            this.#conflicts.push(result.conflict);
            this.#conflictFrom = Math.min(this.#conflictFrom ?? number, number);
          }
          return result;
        },
        (error: unknown) => {
          failure.abort(error);
          throw error;
        }
      );
      tails[index] = share;
      shares.push(share);
    });
    const all = Promise.all(shares);
    this.#inFlight.set(number, { batch, shares: all });
    const applied = all.then(async results => {
      if (this.#conflictFrom !== undefined && number >= this.#conflictFrom) {
        await this.#resolveConflicts(signal);
      }
      const counts = emptyCounts();
      for (const result of results) addCounts(counts, result.counts);
      return counts;
    });
    return { number, applied };
  }

  /**
   * Waits until every batch in flight has finished its lanes' shares, then relaxes the indexes
   * that collided and applies every batch from the first conflicting one again, in source order
   * (the lanes may have applied later batches' writes of the same documents meanwhile).
   */
  #resolveConflicts(signal: AbortSignal): Promise<void> {
    this.#resolving ??= (async () => {
      const pending = [...this.#inFlight.values()];
      await Promise.allSettled(pending.map(entry => entry.shares));
      const from = this.#conflictFrom!;
      const batches = [...this.#inFlight.entries()]
        .filter(([number]) => number >= from)
        .sort(([a], [b]) => a - b)
        .map(([, entry]) => entry.batch);
      await this.#guard.relaxConflicts(this.#conflicts.splice(0));
      await this.#guard.replay(batches, signal);
      this.#conflictFrom = undefined;
    })().finally(() => {
      this.#resolving = undefined;
    });
    return this.#resolving;
  }

  /** Runs the batch's command (adjusted for relaxed unique indexes); false when already done. */
  async #applyDdl(batch: DdlBatch, signal: AbortSignal): Promise<boolean> {
    const command = await this.#guard.forDdl(batch.command, batch.entry.ts);
    return command === undefined ? true : this.#ddl.apply(batch, command, signal);
  }
}
