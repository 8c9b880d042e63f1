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
 * Stopping: `stop()` closes the input (upstream pushes now resolve `false`), applies what is
 * still queued, then ends. A forced stop (the `signal` option) ends at the next safe point,
 * between two runs of a lane: the unfinished batch is not reported, so it is not checkpointed,
 * and replaying it after a restart is idempotent.
 */
import { setMaxListeners } from 'node:events';

import {
  type Document,
  type MongoClient,
  MongoServerError,
  type Timestamp,
  type WriteConcern,
  type WriteConcernSettings
} from 'mongodb';

import { InvalidConfigError, ReplicationError, TargetWriteError } from '../errors.js';
import { type BoundedQueue } from '../lifecycle/bounded-queue.js';
import { readRetryOptions, type StageRetryOptions } from '../lifecycle/retry.js';
import { describeFailure, sideError } from '../lifecycle/side-errors.js';
import { Stage, type StageEvents, type StageOptions } from '../lifecycle/stage.js';
import { type TargetCommand } from '../oplog/ddl-ops.js';
import { formatOptime } from '../oplog/oplog-entry.js';
import { type OptionReader, readOptions, readWriteConcern } from '../options/option-reader.js';
import { type ApplyBatch, type CrudBatch, type DdlBatch } from '../pipeline/pipeline-items.js';
import { ApplierLane } from './applier-lane.js';
import {
  addCounts,
  type ApplierConflictEvent,
  type ApplyCounts,
  type ConflictPolicy,
  emptyCounts
} from './apply-outcome.js';
import { routeToLanes } from './lane-plan.js';
import { TransactionApplier } from './transaction-applier.js';

export {
  type ApplierConflictEvent,
  type ApplyCounts,
  type ConflictAction,
  type ConflictPolicy
} from './apply-outcome.js';

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
}

/**
 * Options for {@link HashedApplierPool}.
 * @public
 */
export interface HashedApplierPoolOptions extends StageOptions {
  /** The batches to apply (from the ReplBatcher). The pool closes it on `stop()`. */
  input: BoundedQueue<ApplyBatch>;
  /** The target, connected by the host; the pool never closes it. */
  target: MongoClient;
  /**
   * Writer lanes applying in parallel.
   * @defaultValue 16
   */
  lanes?: number;
  /**
   * What to do about an update or delete that matches nothing after catch-up.
   * @defaultValue `'ignore'` (counted and emitted as a `conflict` event, never silent)
   */
  conflictPolicy?: ConflictPolicy;
  /** The source, connected by the host; required by the `upsert` conflict policy. */
  source?: MongoClient;
  /**
   * The optime the full copy ended at: misses at or before it are expected (counted as
   * `expectedMissing`, no conflict).
   * @defaultValue none: every miss is a conflict
   */
  catchUpUntil?: Timestamp;
  /**
   * Backoff for transient target failures (network, step-down).
   * @defaultValue {@link retryDefaults}
   */
  retry?: StageRetryOptions;
  /**
   * Write concern of every write.
   * @defaultValue the target client's
   */
  writeConcern?: WriteConcern | WriteConcernSettings;
  /**
   * Writes skip the target's document validation, so the target holds what the source holds,
   * including documents its validator now rejects (written before the validator, or with
   * validation bypassed). Needs the `bypassDocumentValidation` privilege on the target.
   * @defaultValue true
   */
  bypassDocumentValidation?: boolean;
  /**
   * Batches being applied at once (1 = strictly one batch after another). Ops of one document
   * always stay in order whatever the value; a higher one keeps the target busy while the next
   * batch is prepared, at the cost of holding more batches in memory.
   * @defaultValue 3
   */
  maxBatchesInFlight?: number;
}

/**
 * The defaults {@link HashedApplierPool} applies to omitted options.
 * @public
 */
export const hashedApplierPoolDefaults = Object.freeze({
  lanes: 16,
  bypassDocumentValidation: true,
  conflictPolicy: 'ignore' as ConflictPolicy,
  maxBatchesInFlight: 3
});

/**
 * {@link HashedApplierPoolOptions} with defaults applied and validated.
 * @public
 */
export interface ResolvedHashedApplierPoolOptions {
  /** See {@link HashedApplierPoolOptions.input}. */
  readonly input: BoundedQueue<ApplyBatch>;
  /** See {@link HashedApplierPoolOptions.target}. */
  readonly target: MongoClient;
  /** See {@link HashedApplierPoolOptions.lanes}. */
  readonly lanes: number;
  /** See {@link HashedApplierPoolOptions.conflictPolicy}. */
  readonly conflictPolicy: ConflictPolicy;
  /** See {@link HashedApplierPoolOptions.source}. */
  readonly source: MongoClient | undefined;
  /** See {@link HashedApplierPoolOptions.catchUpUntil}. */
  readonly catchUpUntil: Timestamp | undefined;
  /** See {@link HashedApplierPoolOptions.retry}. */
  readonly retry: StageRetryOptions;
  /** See {@link HashedApplierPoolOptions.writeConcern}. */
  readonly writeConcern: WriteConcern | WriteConcernSettings | undefined;
  /** See {@link HashedApplierPoolOptions.bypassDocumentValidation}. */
  readonly bypassDocumentValidation: boolean;
  /** See {@link HashedApplierPoolOptions.maxBatchesInFlight}. */
  readonly maxBatchesInFlight: number;
}

const MAX_LANES = 1024;
const MAX_BATCHES_IN_FLIGHT = 64;
const POLICIES: readonly ConflictPolicy[] = ['ignore', 'upsert', 'fail'];

/**
 * Reads the pool's tunable options: what the Replicator's `applier` slice holds.
 * @throws {@link InvalidConfigError} naming the field
 * @internal
 */
export function readApplierSettings(
  reader: OptionReader
): Pick<
  ResolvedHashedApplierPoolOptions,
  | 'lanes'
  | 'conflictPolicy'
  | 'retry'
  | 'writeConcern'
  | 'maxBatchesInFlight'
  | 'bypassDocumentValidation'
> {
  const d = hashedApplierPoolDefaults;
  return {
    bypassDocumentValidation: reader.boolean(
      'bypassDocumentValidation',
      d.bypassDocumentValidation
    ),
    lanes: reader.integer('lanes', d.lanes, { max: MAX_LANES }),
    conflictPolicy: reader.oneOf('conflictPolicy', POLICIES, d.conflictPolicy),
    retry: readRetryOptions(reader.object('retry')),
    writeConcern: readWriteConcern(reader),
    maxBatchesInFlight: reader.integer('maxBatchesInFlight', d.maxBatchesInFlight, {
      max: MAX_BATCHES_IN_FLIGHT
    })
  };
}

/**
 * Validates `options` and applies {@link hashedApplierPoolDefaults}; no I/O.
 * @throws {@link InvalidConfigError} naming the first invalid option
 * @internal
 */
export function resolveHashedApplierPoolOptions(
  options: HashedApplierPoolOptions
): Readonly<ResolvedHashedApplierPoolOptions> {
  return readOptions(options, reader => {
    reader.signal();
    reader.logger();
    const input = reader.custom('input', (value, field) => {
      if (typeof (value as Partial<BoundedQueue<ApplyBatch>> | undefined)?.shift !== 'function') {
        throw new InvalidConfigError(field, 'expected a BoundedQueue of batches');
      }
      return value as BoundedQueue<ApplyBatch>;
    });
    const target = reader.client('target');
    const source = reader.optionalClient('source');
    const settings = readApplierSettings(reader);
    if (settings.conflictPolicy === 'upsert' && source === undefined) {
      reader.fail(
        'source',
        'is required when conflictPolicy is "upsert" (conflicting documents are re-read from it)'
      );
    }
    return Object.freeze({
      input,
      target,
      source,
      catchUpUntil: reader.optionalTimestamp('catchUpUntil'),
      ...settings
    });
  });
}

/**
 * Why a DDL command may fail harmlessly on the target: it already happened (mongod's own list
 * for oplog application, `oplog.cpp` `kOpsMap`: the error codes each command may ignore).
 */
const ALREADY_DONE: ReadonlyMap<string, ReadonlySet<number>> = new Map([
  ['create', new Set([48])], // NamespaceExists
  ['createIndexes', new Set([26, 68])], // NamespaceNotFound, IndexAlreadyExists
  ['drop', new Set([26])],
  ['dropDatabase', new Set([26])],
  ['dropIndexes', new Set([26, 27])], // IndexNotFound
  ['renameCollection', new Set([26, 48])],
  ['collMod', new Set([26])],
  ['convertToCapped', new Set([26])],
  ['emptycapped', new Set([26])]
]);

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
    const { target, source, conflictPolicy, catchUpUntil, writeConcern, lanes } = this.options;
    const applierOptions = {
      target,
      source,
      conflictPolicy,
      catchUpUntil,
      writeConcern,
      bypassDocumentValidation: this.options.bypassDocumentValidation,
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
        const started = performance.now();
        if (batch.kind === 'ddl') {
          await reported; // after every earlier write, and before any later one starts
          const alreadyApplied = (await this.#applyDdl(batch)) ? 0 : 1;
          this.#report(batch, emptyCounts(), 1, alreadyApplied, started);
          continue;
        }
        if (batch.kind === 'txn') {
          await reported; // likewise: the transaction sees every earlier write, and only those
          const counts = await this.#transactions.apply(batch, laneSignal);
          this.#report(batch, counts, batch.ops.length, 0, started);
          continue;
        }
        const applied =
          batch.kind === 'crud'
            ? this.#dispatchCrud(batch, tails, laneSignal, failure)
            : Promise.resolve(emptyCounts());
        const previous = reported;
        reported = Promise.all([previous, applied]).then(([, counts]) => {
          this.#report(batch, counts, batch.kind === 'crud' ? batch.ops.length : 0, 0, started);
        });
        // The chain is awaited below or at the end; this only marks a failure as handled here.
        reported.catch(() => undefined);
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
      alreadyApplied,
      lastOptime: batch.lastOptime,
      checkpointOptime: batch.checkpointOptime,
      ...(batch.resumeToken === undefined ? {} : { resumeToken: batch.resumeToken }),
      durationMs: performance.now() - started
    });
  }

  /**
   * Queues each lane's share of the batch behind that lane's share of earlier batches; resolves
   * with the batch's counts once every lane has finished its share.
   */
  #dispatchCrud(
    batch: CrudBatch,
    tails: Promise<unknown>[],
    signal: AbortSignal,
    failure: AbortController
  ): Promise<ApplyCounts> {
    const routed = routeToLanes(batch.ops, this.#lanes.length);
    const shares: Promise<ApplyCounts>[] = [];
    routed.forEach((ops, index) => {
      if (ops.length === 0) return;
      const share = tails[index]!.then(() => this.#lanes[index]!.apply(ops, signal)).catch(
        (error: unknown) => {
          failure.abort(error);
          throw error;
        }
      );
      tails[index] = share;
      shares.push(share);
    });
    return Promise.all(shares).then(results => {
      const counts = emptyCounts();
      for (const result of results) addCounts(counts, result);
      return counts;
    });
  }

  /**
   * A rename replayed after it already happened finds its target taken. CRUD ops are applied by
   * name (mongod applies them by collection UUID), so the replay may have re-created the old
   * name from the ops before the rename: that copy is an artifact the source never had after
   * this point, and every later source write to the old name is still ahead in the stream. Drop
   * it, as the rename would have made it disappear.
   */
  async #dropRenamed(command: Document): Promise<void> {
    const from = command.renameCollection as unknown;
    if (typeof from !== 'string') return;
    const dot = from.indexOf('.');
    const db = from.slice(0, dot);
    const coll = from.slice(dot + 1);
    await this.retry(
      `drop ${from} left by a replayed rename`,
      () =>
        this.options.target
          .db(db)
          .command(
            withWriteConcern({ db, command: { drop: coll } }, this.options.writeConcern).command
          )
          .catch((error: unknown) => {
            if (error instanceof MongoServerError && error.code === 26) return undefined;
            throw error;
          }),
      this.options.retry
    );
  }

  /** Runs the command; returns false when the target reports it as already done. */
  async #applyDdl(batch: DdlBatch): Promise<boolean> {
    const { db, command } = withWriteConcern(batch.command, this.options.writeConcern);
    const name = Object.keys(command)[0] ?? '';
    const label = `${name} on ${db}`;
    try {
      await this.retry(
        `${label}`,
        () => this.options.target.db(db).command(command),
        this.options.retry
      );
      return true;
    } catch (error) {
      const code = error instanceof MongoServerError ? error.code : undefined;
      if (typeof code === 'number' && ALREADY_DONE.get(name)?.has(code) === true) {
        this.logger.info(`${label} was already applied on the target`, { code });
        if (name === 'renameCollection' && code === NAMESPACE_EXISTS)
          await this.#dropRenamed(command);
        return false;
      }
      if (ReplicationError.is(error)) throw error;
      throw new TargetWriteError(
        `The target rejected ${name} of ${describeTarget(batch.command)} at ${formatOptime(batch.entry.ts)}${describeFailure(error)}`,
        false,
        {
          namespace: describeTarget(batch.command),
          optime: batch.entry.ts,
          cause: error,
          hint: 'A DDL command the target rejects stops replication; fix the target (or the rename rules) and restart from the checkpoint'
        }
      );
    }
  }
}

const NAMESPACE_EXISTS = 48;

function withWriteConcern(
  command: TargetCommand,
  writeConcern: WriteConcern | WriteConcernSettings | undefined
): TargetCommand {
  if (writeConcern === undefined || 'writeConcern' in command.command) return command;
  return { db: command.db, command: { ...command.command, writeConcern } };
}

/** The namespace a command concerns: `db.coll`, the source of a rename, or `db.$cmd`. */
function describeTarget(command: TargetCommand): string {
  const name = Object.keys(command.command)[0] ?? '';
  const value: unknown = command.command[name];
  if (typeof value !== 'string') return `${command.db}.$cmd`;
  return name === 'renameCollection' ? value : `${command.db}.${value}`;
}
