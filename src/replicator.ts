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
import { type MongoClient, type Timestamp } from 'mongodb';

import { logUniqueIndexEvent } from './apply/unique-guard.js';
import { type UniqueIndexRef } from './catalog/unique-indexes.js';
import { type ReplicationPhase } from './checkpoint/checkpoint.js';
import { type ReplicationError } from './errors.js';
import { clusterOplogTime } from './fetch/shard-oplog-reads.js';
import { shardClientFor, type SourceShard } from './fetch/source-shards.js';
import { type LeaseKeeper } from './lease/lease-keeper.js';
import { firstFailure, sideError } from './lifecycle/side-errors.js';
import { Stage } from './lifecycle/stage.js';
import { type NamespaceFilter } from './namespace/namespace-filter.js';
import { directionMapping } from './observability/direction-mapping.js';
import {
  assembleReplicator,
  type AssemblyEmit,
  type CheckpointKeeper,
  CopyPhase,
  DeploymentClients,
  type FenceOptions,
  type FenceResult,
  type IncrementalPipeline,
  newestSourceOptime,
  releaseLease,
  replicatorFilter,
  runFence
} from './orchestration/index.js';
import { type LeaseEvent, type ReplicatorEvents } from './replicator-events.js';
import {
  redactConnection,
  type ReplicatorOptions,
  type ResolvedReplicatorOptions,
  resolveReplicatorOptions
} from './replicator-options.js';
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
  #sourceSharded = false;
  #lease: LeaseKeeper | undefined;
  /** Modes `full` and `all`: the copy, and mode `all`'s spool. */
  #copy: CopyPhase | undefined;
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
    this.requireRunning('pause()');
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
    this.requireRunning('resume()');
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
    const { filter, sourceSharded, lease, keeper, pipeline } = await assembleReplicator(
      {
        options,
        logger: this.logger,
        throttle: this.#throttle,
        beforeWrite: this.#beforeWrite,
        // The events reported are a subset of ReplicatorEvents: same names, same payloads.
        emit: ((event: keyof ReplicatorEvents, payload: never) =>
          this.safeEmit(event, payload)) as AssemblyEmit,
        setStandby: waiting => this.setStandby(waiting),
        fail: error => this.fail(error),
        spool: () => this.#copy?.spool,
        onCatchUpEnd: () => this.#emitPhase('incr'),
        connectShard: this.#connectShard
      },
      clients,
      signal
    );
    [this.#filter, this.#lease, this.#keeper, this.#pipeline] = [filter, lease, keeper, pipeline];
    this.#sourceSharded = sourceSharded;
    const checkpoint = await keeper.load();
    const newestOptime = () => this.#newestOptime();
    if (options.mode === 'incr') {
      return pipeline.startIncr(checkpoint, options.startAt, newestOptime);
    }
    if (!checkpoint) keeper.phase = 'full';
    this.#copy = new CopyPhase({
      clients,
      options,
      filter,
      keeper,
      pipeline,
      logger: this.logger,
      beforeWrite: this.#beforeWrite,
      throttle: this.#throttle,
      // The lease makes this process the job's only owner: the spool needs no lock of its own.
      lockSpool: lease === undefined,
      newestOptime,
      onPhase: (phase, optime) => this.#emitPhase(phase, optime),
      onProgress: event => this.safeEmit('progress', event),
      onRetry: event => this.safeEmit('retry', event),
      onUniqueIndex: event => {
        logUniqueIndexEvent(this.logger, event);
        this.safeEmit('uniqueIndex', event);
      }
    });
    await (options.mode === 'all'
      ? this.#copy.startAll(checkpoint)
      : this.#copy.startFull(checkpoint));
  }

  /** Copies (modes `full` and `all`), then runs until the pipeline fails or has ended. */
  protected override async run(signal: AbortSignal): Promise<void> {
    try {
      if (this.options.mode !== 'incr' && this.phase === 'full' && !this.#keeper?.copiedAt) {
        await this.#copy?.run(signal, () => this.#draining !== undefined);
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
        await this.#copy?.spool?.close();
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
      await this.#copy?.spool?.close().catch(() => undefined);
      await releaseLease(this.#lease, this.#emitLease, this.options.checkpoint.name);
      await this.#clients?.close();
    })();
    return this.#released;
  }

  /** A new client of one shard of a sharded source, with the source's credentials. */
  readonly #connectShard = (shard: SourceShard): MongoClient =>
    shardClientFor(this.#connections.source, shard);

  /** Every write to the target checks the lease first: a replicator that lost it writes nothing. */
  readonly #beforeWrite = (): void => this.#lease?.assertHeld();

  readonly #emitLease = (event: LeaseEvent): void => this.safeEmit('lease', event);

  #emitPhase(phase: ReplicationPhase, optime = this.#keeper?.applied): void {
    this.logger.info(`Phase ${phase}`, optime ? { optime: `${optime.t}:${optime.i}` } : {});
    this.safeEmit('phase', { phase, ...(optime ? { optime } : {}) });
  }

  #newestOptime(): Promise<Timestamp> {
    const source = this.#clients!.source;
    if (this.#sourceSharded && this.options.fetchMethod === 'oplog') {
      return clusterOplogTime(source, this.#connectShard);
    }
    // A mongos has no oplog of its own: with a change stream, the cluster's time is its
    // operation time.
    const readsOplog = this.options.fetchMethod === 'oplog';
    return newestSourceOptime(source, readsOplog ? 'oplog' : 'operationTime');
  }
}
