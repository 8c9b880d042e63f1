/**
 * Replicator: sequences the modes and phases of replication. Everything else lives in a module of
 * its own: the clients (`orchestration/deployment-clients.ts`), the position and its saves
 * (`orchestration/checkpoint-keeper.ts`), the incremental stages
 * (`orchestration/incremental-pipeline.ts`), the copy (`full/full-copy.ts`), the fence
 * (`orchestration/fence.ts`).
 *
 * ```
 * incr: open: connect → load checkpoint (or startAt / the source's newest optime) → pipeline
 *       run:  until the pipeline fails or ends
 * full: run:  FullCopy (catalog, split, ranges, indexes, views), recording done ranges → end
 * all:  open: fullBeginTs = source's newest optime (kept in the checkpoint); the fetcher starts
 *             there at once and pumps into the OplogSpool while the copy runs
 *       run:  FullCopy → copyEndTs → apply from the spool (phase catchup, then incr once
 *             copyEndTs is applied)
 * stop: copy → pipeline drain in data-flow order → final checkpoint → release
 * pause: the WriteThrottle every target write passes lets none start (state `paused`); a stop
 *        while paused writes the checkpoint of what is applied and aborts the rest
 * ```
 *
 * One teardown path ({@link Replicator} `#release`) ends what is running, stops what never
 * started, closes the spool and the clients this process opened: after a failed start, a
 * failure, a forced stop or a finished copy.
 */
import { join } from 'node:path';

import { type Timestamp } from 'mongodb';

import { hashedApplierPoolDefaults } from './apply/hashed-applier-pool-options.js';
import { logUniqueIndexEvent, type UniqueIndexEvent } from './apply/unique-guard.js';
import { type UniqueIndexRef } from './catalog/unique-indexes.js';
import { type Checkpoint, type ReplicationPhase } from './checkpoint/checkpoint.js';
import { InvalidStateError, type ReplicationError } from './errors.js';
import { type FullCopy } from './full/full-copy.js';
import { type LeaseKeeper } from './lease/lease-keeper.js';
import { firstFailure, sideError } from './lifecycle/side-errors.js';
import { Stage } from './lifecycle/stage.js';
import { type NamespaceFilter } from './namespace/namespace-filter.js';
import { directionMapping } from './observability/direction-mapping.js';
import {
  type CheckpointKeeper,
  checkpointStoreOf,
  DeploymentClients,
  enforceCopiedUniqueIndexes,
  type FenceOptions,
  type FenceResult,
  holdLease,
  identifyDeployments,
  IncrementalPipeline,
  newestSourceOptime,
  type PipelineEmit,
  type PipelineEvents,
  recordCopiedUniqueIndexes,
  releaseLease,
  replicatorFilter,
  replicatorKeeper,
  runFence,
  startCopy
} from './orchestration/index.js';
import { type LeaseEvent, type ReplicatorEvents } from './replicator-events.js';
import {
  redactConnection,
  type ReplicatorOptions,
  type ResolvedReplicatorOptions,
  resolveReplicatorOptions
} from './replicator-options.js';
import { OplogSpool } from './spool/oplog-spool.js';
import { type RateLimit } from './throttle/rate-limit.js';
import { type RateLimitStats, WriteThrottle } from './throttle/write-throttle.js';

/**
 * Replicates a MongoDB source into a target: copies it (modes `full` and `all`), tails the source
 * oplog and applies it (modes `incr` and `all`), resuming from its checkpoint after a stop or a
 * crash.
 *
 * @remarks
 * Every option, nested ones included, is checked in the constructor: an invalid value or an
 * unknown key throws {@link InvalidConfigError} naming its path before anything connects.
 *
 * @example
 * ```ts
 * const replicator = new Replicator({
 *   source: 'mongodb://src/?replicaSet=rs0',
 *   target: 'mongodb://dst/?replicaSet=rs1',
 *   mode: 'all',
 *   filter: { include: ['shop.*'], rename: { 'shop.*': 'shop_copy.*' } },
 *   checkpoint: { name: 'shop' }
 * });
 * replicator.on('progress', p => console.log(p.namespace, p.documents, p.etaMs));
 * replicator.on('lag', lag => console.log(`${lag.seconds}s behind`));
 * await replicator.start();
 * // … later
 * await replicator.stop();
 * ```
 * @public
 */
export class Replicator extends Stage<ReplicatorEvents> {
  /** The options as resolved (defaults applied, validated), connection strings redacted. */
  readonly options: ResolvedReplicatorOptions;
  #filter: NamespaceFilter;
  /** The connection strings (or clients) as given: only for connecting. */
  readonly #connections: Pick<ResolvedReplicatorOptions, 'source' | 'target'>;
  #clients: DeploymentClients | undefined;
  #keeper: CheckpointKeeper | undefined;
  #pipeline: IncrementalPipeline | undefined;
  #spool: OplogSpool | undefined;
  #lease: LeaseKeeper | undefined;
  #copy: FullCopy | undefined;
  #draining: Promise<void> | undefined;
  #released: Promise<void> | undefined;
  /** The rate limit and pause gate of every write to the target, the copy's and the applier's. */
  readonly #throttle: WriteThrottle;

  /**
   * @param options - See {@link ReplicatorOptions}.
   * @throws {@link InvalidConfigError} for an invalid option or an unknown key (before any I/O)
   */
  constructor(options: ReplicatorOptions) {
    const resolved = resolveReplicatorOptions(options);
    super('replicator', {
      ...(resolved.signal ? { signal: resolved.signal } : {}),
      ...(resolved.logger ? { logger: resolved.logger } : {})
    });
    this.#connections = { source: resolved.source, target: resolved.target };
    // What the host can read, log or serialise never holds a connection string's secrets.
    this.options = Object.freeze({
      ...resolved,
      source: redactConnection(resolved.source),
      target: redactConnection(resolved.target)
    });
    this.#filter = replicatorFilter(resolved, undefined);
    this.#throttle = new WriteThrottle(resolved.rateLimit);
  }

  /** The rate limit in force: `options.rateLimit`, or what {@link Replicator.setRateLimit} set. */
  get rateLimit(): Readonly<RateLimit> {
    return this.#throttle.limit;
  }

  /** Whether the rate limit holds replication back now, and for how long it has in total. */
  get rateLimitStats(): RateLimitStats {
    return this.#throttle.stats;
  }

  /**
   * Replaces the rate limit, at once, in any state (a field left out is unlimited): writes
   * waiting for the old limit are re-timed.
   * @throws {@link InvalidConfigError} naming `rateLimit.<field>` for a value that is not above 0
   */
  setRateLimit(limit: RateLimit): void {
    this.#throttle.setLimit(limit);
    this.logger.info('Rate limit changed', { ...this.#throttle.limit });
  }

  /**
   * Stops writing to the target (state `paused`) until {@link Replicator.resume}. Resolves once
   * the writes under way have ended: from then on nothing reaches the target. Fetching goes on
   * until the bounded queues are full, then stops by backpressure; checkpoints keep naming only
   * what was applied. `stop()` while paused writes the checkpoint and stops without applying
   * what was fetched meanwhile (a restart fetches it again).
   * @throws {@link InvalidStateError} when the replicator is neither running nor paused
   */
  async pause(): Promise<void> {
    this.#requireRunning('pause()');
    const idle = this.#throttle.pause();
    if (this.setPaused(true)) this.logger.info('Paused: nothing is written until resume()');
    await idle;
  }

  /**
   * Lets writes to the target start again (state `running`), in the order they were held;
   * nothing to do when running.
   * @throws {@link InvalidStateError} when the replicator is neither running nor paused
   */
  resume(): void {
    this.#requireRunning('resume()');
    this.#throttle.resume();
    if (this.setPaused(false)) this.logger.info('Resumed: writing to the target again');
  }

  /** What `JSON.stringify` and `util.inspect` show: state, mode, checkpoint, redacted hosts. */
  override toJSON(): Record<string, unknown> {
    const { mode, fetchMethod, checkpoint, source, target } = this.options;
    return {
      ...super.toJSON(),
      mode,
      fetchMethod,
      checkpoint: checkpoint.name,
      ...directionMapping(source, target)
    };
  }

  /** The optime of the last batch applied on the target, once one was. */
  get appliedOptime(): Timestamp | undefined {
    return this.#keeper?.applied;
  }

  /**
   * Unique indexes of the target that accept duplicates for now, until the target is consistent
   * (docs/unique-indexes.md); from the checkpoint, so a restart lists them too. A copy's ones
   * are listed once it ends.
   */
  get relaxedUniqueIndexes(): readonly UniqueIndexRef[] {
    return this.#keeper?.uniqueIndexes.relaxedIndexes ?? [];
  }

  /** The current phase: `full` (copying), `catchup` or `incr`. */
  get phase(): ReplicationPhase {
    return this.#keeper?.phase ?? 'incr';
  }

  /**
   * Writes a marker on the source and resolves once the target has applied everything up to it:
   * the cutover point. Stop the application's writes to the source, `await fence()`, then switch
   * the application to the target; nothing written before the fence is missing there.
   *
   * @remarks
   * The marker is one upserted document in `options.namespace` of the source, keyed by the
   * checkpoint name (so the source user needs write access there). In mode `all` the wait
   * includes the rest of the copy and the catch-up.
   *
   * @throws {@link InvalidConfigError} in mode `full` (nothing tails the source)
   * @throws {@link InvalidStateError} when the replicator is not running (paused is fine: the
   * wait then ends after `resume()`)
   * @throws {@link SourceReadError} when the marker cannot be written
   */
  fence(options: FenceOptions = {}): Promise<FenceResult> {
    return runFence({
      mode: this.options.mode,
      state: this.state,
      source: this.#clients?.source,
      name: this.options.checkpoint.name,
      filter: this.#filter,
      options,
      applied: () => this.appliedOptime,
      nextBatch: signal => this.waitFor('batch', signal ? { signal } : {})
    });
  }

  /** Connects, loads the checkpoint and starts what the mode and the checkpoint call for. */
  protected override async open(signal: AbortSignal): Promise<void> {
    try {
      await this.#open(signal);
    } catch (error) {
      await this.#release(error);
      throw error;
    }
  }

  async #open(signal: AbortSignal): Promise<void> {
    const { source, target } = this.#connections;
    const clients = await DeploymentClients.connect(source, target, signal);
    this.#clients = clients;
    const keepClosingOnAbort = clients.closeOnAbort(signal);
    try {
      await this.#start(clients, signal);
    } finally {
      keepClosingOnAbort();
    }
  }

  /** Takes the lease, loads the checkpoint and starts what the mode and the checkpoint call for. */
  async #start(clients: DeploymentClients, signal: AbortSignal): Promise<void> {
    const { options } = this;
    const { sourceId, filter } = await identifyDeployments(clients, options, this.logger);
    this.#filter = filter;
    const store = checkpointStoreOf(options, clients.target);
    this.#lease = await holdLease({
      options,
      store,
      logger: this.logger,
      signal,
      onStandby: waiting => this.setStandby(waiting),
      onEvent: this.#emitLease,
      onLost: error => this.fail(error)
    });
    const keeper = replicatorKeeper(options, {
      store,
      sourceId,
      spool: () => this.#spool,
      onSaved: event => this.safeEmit('checkpoint', event),
      onFailure: error => this.fail(error),
      lease: () => this.#lease?.token
    });
    this.#keeper = keeper;
    this.#pipeline = new IncrementalPipeline({
      source: clients.source,
      target: clients.target,
      settings: options,
      filter: this.#filter,
      logger: this.logger,
      signal,
      keeper,
      // PipelineEvents is a subset of ReplicatorEvents: same names, same payloads.
      emit: ((event: keyof PipelineEvents, payload: never) =>
        this.safeEmit(event, payload)) as PipelineEmit,
      onCatchUpEnd: () => this.#emitPhase('incr'),
      beforeWrite: this.#beforeWrite,
      throttle: this.#throttle
    });
    const checkpoint = await keeper.load();
    if (options.mode === 'incr') {
      // Without a checkpoint: `startAt`, or the source's newest optime for 'latest'.
      const { startAt } = options;
      const start =
        checkpoint?.lastApplied ?? (startAt === 'latest' ? await this.#newestOptime() : startAt);
      keeper.startAt(start);
      if (!checkpoint) await keeper.save();
      await this.#pipeline.startDirect(
        start,
        keeper.appliedToken,
        await this.#replayUntil(checkpoint)
      );
      return;
    }
    if (!checkpoint) keeper.phase = 'full';
    if (options.mode === 'full') {
      if (!checkpoint) await keeper.save();
      if (keeper.copiedAt !== undefined) this.logger.warn(keeper.copiedNotice());
      return;
    }
    // Mode all: everything from fullBeginTs on is fetched into the spool, copy or no copy.
    keeper.fullBeginTs ??= await this.#newestOptime();
    const applied = keeper.applied ?? keeper.fullBeginTs;
    keeper.startAt(applied);
    if (!checkpoint) await keeper.save();
    // The lease makes this process the job's only owner: the spool needs no lock of its own.
    const spool = await OplogSpool.open(join(options.spoolDir, options.checkpoint.name), {
      logger: this.logger,
      lock: this.#lease === undefined
    });
    this.#spool = spool;
    await this.#pipeline.startSpooling(spool, applied, keeper.appliedToken);
    if (keeper.phase !== 'full') await this.#applySpool(await this.#replayUntil(checkpoint));
  }

  /** A restart may have applied past its checkpoint: at most up to the source's newest optime. */
  async #replayUntil(checkpoint: Checkpoint | undefined): Promise<Timestamp | undefined> {
    return checkpoint?.lastApplied === undefined ? undefined : this.#newestOptime();
  }

  /** Copies (modes `full` and `all`), then runs until the pipeline fails or has ended. */
  protected override async run(signal: AbortSignal): Promise<void> {
    try {
      if (this.options.mode !== 'incr' && this.phase === 'full' && !this.#keeper?.copiedAt) {
        const copied = await this.#runCopy(signal);
        if (copied && this.options.mode === 'all') await this.#beginCatchUp();
        else if (copied) await this.#finishCopy();
      }
      await this.#pipeline?.ended();
    } catch (error) {
      await this.#release(error);
      throw error;
    }
    if (this.#draining) await this.#draining;
    else if (signal.aborted || this.options.mode === 'full') await this.#release(signal.reason);
  }

  /**
   * Stops in data-flow order, writes the last checkpoint, then releases everything. Paused,
   * nothing more may be written: only the checkpoint of what is applied is written, and the stop
   * then aborts the rest at its next safe point (writers waiting for `resume()` included).
   */
  protected override drain(): Promise<void> {
    if (this.#throttle.paused) return this.#keeper?.flush() ?? Promise.resolve();
    this.#draining ??= (async () => {
      try {
        await this.#copy?.stop();
        await this.#pipeline?.drain();
        await this.#keeper?.flush();
        await this.#spool?.close();
      } finally {
        await this.#release(new Error('replicator stopped'));
      }
    })();
    return this.#draining;
  }

  /**
   * Typed errors pass through; when several parts failed at once, the first is reported and the
   * others are logged. Anything untyped happened while talking to the source.
   */
  protected override toReplicationError(error: unknown): ReplicationError {
    const first = firstFailure(error, other =>
      this.logger.error('Another part failed at the same time', { error: other })
    );
    return sideError('source', first, { action: 'Replicating from the source' });
  }

  /** The one teardown path (see the file header); later calls share the first. */
  #release(reason: unknown): Promise<void> {
    this.#released ??= (async () => {
      await this.#pipeline?.shutdown(reason);
      await this.#spool?.close().catch(() => undefined);
      await releaseLease(this.#lease, this.#emitLease, this.options.checkpoint.name);
      await this.#clients?.close();
    })();
    return this.#released;
  }

  /** Runs the full copy; false when a stop ended it first. */
  async #runCopy(signal: AbortSignal): Promise<boolean> {
    const { options } = this;
    const keeper = this.#keeper!;
    const pipeline = this.#pipeline!;
    this.#emitPhase('full', keeper.fullBeginTs);
    this.#copy = startCopy({
      clients: this.#clients!,
      options,
      filter: this.#filter,
      keeper,
      logger: this.logger,
      // A failing fetcher (mode all) stops the copy too: its entries could not be applied.
      signal: pipeline.signal,
      onProgress: event => this.safeEmit('progress', event),
      onRetry: event => this.safeEmit('retry', event),
      beforeWrite: this.#beforeWrite,
      throttle: this.#throttle
    });
    const result = await this.#copy.run();
    // stop() may have released the pipeline (its signal aborted) while the copy saved its state.
    if (result === 'stopped' && this.#draining) return false;
    signal.throwIfAborted();
    pipeline.signal.throwIfAborted();
    if (result === 'stopped') return false;
    this.logger.info('The full copy is done', { collections: keeper.copiedCollections });
    return true;
  }

  /** After the copy (mode all): apply what the spool holds, then keep tailing through it. */
  async #beginCatchUp(): Promise<void> {
    const keeper = this.#keeper!;
    keeper.beginCatchUp(await this.#newestOptime());
    const relaxed = this.#copy?.relaxedUniqueIndexes ?? [];
    await recordCopiedUniqueIndexes(relaxed, keeper, this.#reportUniqueIndex);
    await this.#applySpool(undefined);
    // Nothing was written during the copy: there is nothing to catch up on.
    if (keeper.endCatchUpIfReached()) this.#emitPhase('incr');
  }

  async #applySpool(replayUntil: Timestamp | undefined): Promise<void> {
    const keeper = this.#keeper!;
    this.#emitPhase(keeper.phase);
    await this.#pipeline!.startApplyingSpool(this.#spool!, keeper.applied!, {
      catchUpUntil: keeper.copyEndTs,
      replayUntil
    });
  }

  /** Mode full: the unique indexes the copy relaxed are enforced, and the copy recorded done. */
  async #finishCopy(): Promise<void> {
    const { uniqueConflictPolicy } = this.options.applier;
    const relaxed = this.#copy?.relaxedUniqueIndexes ?? [];
    await enforceCopiedUniqueIndexes(this.#clients!.target, relaxed, this.#keeper!, {
      policy: uniqueConflictPolicy ?? hashedApplierPoolDefaults.uniqueConflictPolicy,
      emit: this.#reportUniqueIndex,
      beforeWrite: this.#beforeWrite
    });
    await this.#keeper!.markCopied();
  }

  /** Every write to the target checks the lease first: a replicator that lost it writes nothing. */
  readonly #beforeWrite = (): void => this.#lease?.assertHeld();

  readonly #emitLease = (event: LeaseEvent): void => this.safeEmit('lease', event);

  #requireRunning(call: string): void {
    if (this.state === 'running' || this.state === 'paused') return;
    throw new InvalidStateError(
      `${call} needs a running replicator (it is ${this.state})`,
      this.state,
      {
        hint: 'Call it after start() has resolved and before stop()'
      }
    );
  }

  readonly #reportUniqueIndex = (event: UniqueIndexEvent): void => {
    logUniqueIndexEvent(this.logger, event);
    this.safeEmit('uniqueIndex', event);
  };

  #emitPhase(phase: ReplicationPhase, optime = this.#keeper?.applied): void {
    this.logger.info(`Phase ${phase}`, optime ? { optime: `${optime.t}:${optime.i}` } : {});
    this.safeEmit('phase', { phase, ...(optime ? { optime } : {}) });
  }

  #newestOptime(): Promise<Timestamp> {
    return newestSourceOptime(this.#clients!.source, this.options.fetchMethod);
  }
}
