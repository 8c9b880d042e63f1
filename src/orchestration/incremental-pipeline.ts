/**
 * IncrementalPipeline: the stages of incremental sync wired together, supervised, and stopped
 * through one teardown path.
 *
 * ```
 * direct (mode incr):  fetcher ──output──► batcher ──► pool ──► target
 * spooled (mode all):  fetcher ──output──pump──► OplogSpool (disk) ──feeder──► batcher ──► pool
 *                      (fetching starts with the copy; applying once it is done)
 * ```
 *
 * Consumers start before producers, so nothing fills a queue nobody reads. Every stage gets the
 * pipeline's abort signal: one part failing aborts all the others at once (none can make
 * progress alone), and {@link IncrementalPipeline.ended} then rejects with what failed — the
 * error itself, or an `AggregateError` when several parts failed on their own. Stages that were
 * built but never started are stopped too, so nothing is left waiting.
 *
 * A graceful {@link IncrementalPipeline.drain} stops in data-flow order: the fetcher closes its
 * output, the pump spools what is left, the feeder stops feeding (what it already handed on is
 * applied, the rest stays spooled for the restart), then the batcher and the pool drain.
 */
import { type Document, type MongoClient, type Timestamp } from 'mongodb';

import { HashedApplierPool } from '../apply/hashed-applier-pool.js';
import { ReplBatcher } from '../batch/repl-batcher.js';
import { type TransactionMode } from '../batch/repl-batcher-options.js';
import { type Checkpoint } from '../checkpoint/checkpoint.js';
import { ChangeStreamFetcher } from '../fetch/change-stream-fetcher.js';
import { OplogFetcher } from '../fetch/oplog-fetcher.js';
import { type OplogFetcherEvents } from '../fetch/oplog-fetcher-events.js';
import { oplogFetcherDefaults } from '../fetch/oplog-fetcher-options.js';
import { ShardedOplogFetcher } from '../fetch/sharded-oplog-fetcher.js';
import { type SourceShard } from '../fetch/source-shards.js';
import { BoundedQueue } from '../lifecycle/bounded-queue.js';
import { type Stage, type StageEvents } from '../lifecycle/stage.js';
import { type Logger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';
import { type ReplicatorEvents } from '../replicator-events.js';
import { type ResolvedReplicatorOptions } from '../replicator-options.js';
import { type OplogSpool } from '../spool/oplog-spool.js';
import { feedFromSpool, pumpToSpool } from '../spool/spool-bridge.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { type CheckpointKeeper } from './checkpoint-keeper.js';
import { type ShardWorker } from './shard-workers.js';
import { replayUntil } from './source-position.js';

/**
 * The events the pipeline reports to its owner, named and shaped as the Replicator's.
 * @internal
 */
export type PipelineEvents = Pick<
  ReplicatorEvents,
  'retry' | 'lag' | 'skipped' | 'batch' | 'conflict' | 'uniqueIndex'
>;

/**
 * Emits one of {@link PipelineEvents}.
 * @internal
 */
export type PipelineEmit = <K extends keyof PipelineEvents>(
  event: K,
  ...args: Parameters<PipelineEvents[K]>
) => void;

/**
 * What {@link IncrementalPipeline} needs.
 * @internal
 */
export interface IncrementalPipelineOptions {
  readonly source: MongoClient;
  readonly target: MongoClient;
  readonly settings: Pick<
    ResolvedReplicatorOptions,
    'fetchMethod' | 'fetcher' | 'batcher' | 'applier' | 'targetSharding'
  > & { readonly transactions: TransactionMode };
  readonly filter: NamespaceFilter;
  readonly logger: Logger;
  /** A forced stop: every stage ends at its next safe point. */
  readonly signal: AbortSignal;
  /**
   * Records each applied batch (and saves it when due); its applied position also measures
   * `lag` (the fetched position until a batch is applied).
   */
  readonly keeper: CheckpointKeeper;
  readonly emit: PipelineEmit;
  /** The catch-up after a copy reached `copyEndTs`: the phase is now `incr`. */
  readonly onCatchUpEnd: () => void;
  /** Runs right before every write to the target (the lease check). */
  readonly beforeWrite: () => void;
  /** The rate limit and pause gate of the applier's writes (shared with the copy). */
  readonly throttle: WriteThrottle;
  /**
   * Present when the source is a sharded cluster: a new client of one shard. With `fetchMethod`
   * `'oplog'` every shard's oplog is then read (ShardedOplogFetcher).
   */
  readonly connectShard?: ((shard: SourceShard) => MongoClient) | undefined;
  /** One of several workers on a sharded source: its entries pass its gate (shard-workers.ts). */
  readonly shardWorker?: ShardWorker | undefined;
  /** The shards a worker reads; absent: every shard. */
  readonly shards?: readonly string[] | undefined;
}

type Fetcher = OplogFetcher | ShardedOplogFetcher | ChangeStreamFetcher;

/**
 * Where the target may not match the source write by write: up to `catchUpUntil` (the catch-up
 * after a full copy: misses are expected) and up to `replayUntil` (what a restart replays).
 * Unique indexes relaxed meanwhile are enforced once both are applied.
 * @internal
 */
export interface ApplyWindow {
  readonly catchUpUntil?: Timestamp | undefined;
  readonly replayUntil?: Timestamp | undefined;
}
/** What the pipeline uses of a stage: its lifecycle. */
type Lifecycle = Pick<Stage<StageEvents>, 'start' | 'stop' | 'done' | 'state'>;

/**
 * The incremental stages as one unit (see the file header).
 * @internal
 */
export class IncrementalPipeline {
  readonly #options: IncrementalPipelineOptions;
  readonly #abort = new AbortController();
  /** Stops the spool feeder alone (a graceful stop leaves the rest spooled). */
  readonly #feederAbort = new AbortController();
  #fetcher: Fetcher | undefined;
  #batcher: ReplBatcher | undefined;
  #pool: HashedApplierPool | undefined;
  #pump: Promise<void> | undefined;
  #feeder: Promise<void> | undefined;
  #gate: Promise<void> | undefined;
  #appliedThrough: Timestamp | undefined;
  readonly #failures: unknown[] = [];

  constructor(options: IncrementalPipelineOptions) {
    this.#options = options;
    const forward = () => this.#abort.abort(options.signal.reason);
    if (options.signal.aborted) forward();
    else options.signal.addEventListener('abort', forward, { once: true });
  }

  /**
   * The last entry the applied batches cover: every entry up to it is applied, or held in a
   * transaction whose decision comes later (the checkpoint stays before those).
   */
  get appliedThrough(): Timestamp | undefined {
    return this.#appliedThrough;
  }

  /** Every shard of a sharded source read with the oplog, once the fetcher started. */
  get clusterShards(): readonly string[] {
    const fetcher = this.#fetcher;
    return fetcher instanceof ShardedOplogFetcher
      ? fetcher.clusterShards.map(shard => shard.id)
      : [];
  }

  /** Aborted when a forced stop arrives or any part fails. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Mode incr's start: from the checkpoint's position, or without one from `startAt` (the
   * source's newest optime for `'latest'`), saved at once.
   */
  async startIncr(
    checkpoint: Checkpoint | undefined,
    startAt: ResolvedReplicatorOptions['startAt'],
    newestOptime: () => Promise<Timestamp>
  ): Promise<void> {
    const keeper = this.#options.keeper;
    const start =
      checkpoint?.lastApplied ?? (startAt === 'latest' ? await newestOptime() : startAt);
    keeper.startAt(start);
    if (!checkpoint) await keeper.save();
    const replay = await replayUntil(checkpoint?.lastApplied, newestOptime);
    await this.startDirect(start, keeper.appliedToken, replay);
  }

  /**
   * Mode incr: tail from `start` straight into the batcher. Until `replayUntil` the target may
   * hold later versions (what a previous run applied past its checkpoint).
   */
  async startDirect(
    start: Timestamp,
    resumeToken: Document | undefined,
    replayUntil: Timestamp | undefined
  ): Promise<void> {
    const fetcher = this.#buildFetcher(start, resumeToken);
    await this.#startApplier(this.#gated(fetcher.output), start, { replayUntil });
    await this.#startStage(fetcher);
  }

  /**
   * Mode all: tail into `spool` from the applied position `applied` (or after the spool's last
   * entry when it holds later ones), whatever the copy is doing.
   */
  async startSpooling(
    spool: OplogSpool,
    applied: Timestamp,
    resumeToken: Document | undefined
  ): Promise<void> {
    const spooled = spool.lastOptime;
    // After the spool's last entry a change stream restarts at its optime: every change of one
    // cluster time is in one spooled entry, so nothing of it is missed.
    const fetcher =
      spooled !== undefined && applied.lessThan(spooled)
        ? this.#buildFetcher(spooled, undefined, 'spool')
        : this.#buildFetcher(applied, resumeToken, 'spool');
    this.#pump = this.#watchTask(pumpToSpool(fetcher.output, spool, this.#abort.signal));
    await this.#startStage(fetcher);
  }

  /** Mode all: apply what `spool` holds after `after`, following it as it grows. */
  async startApplyingSpool(
    spool: OplogSpool,
    after: Timestamp,
    window: ApplyWindow
  ): Promise<void> {
    const { fetcher } = this.#options.settings;
    const feed = new BoundedQueue<FetchedEntry>(
      fetcher.bufferMaxEntries ?? oplogFetcherDefaults.bufferMaxEntries,
      fetcher.bufferMaxBytes ?? oplogFetcherDefaults.bufferMaxBytes
    );
    const feederSignal = AbortSignal.any([this.#abort.signal, this.#feederAbort.signal]);
    const feeding = feedFromSpool(spool, after, feed, feederSignal).catch((error: unknown) => {
      // Stopped (a stop drains what was fed; the rest stays spooled) or aborted: whoever
      // aborted reports why, so the abort reason is not a failure of the feeder.
      if (feederSignal.aborted) return;
      throw error;
    });
    this.#feeder = this.#watchTask(feeding);
    await this.#startApplier(feed, after, window);
  }

  /**
   * Resolves once every part started so far has ended, by itself or after {@link drain}; rejects
   * when a part failed (after all the others have ended), with its error or an `AggregateError`.
   * Call it once every part is started.
   */
  async ended(): Promise<void> {
    await Promise.allSettled(this.#parts());
    this.#throwFailures();
  }

  /** Graceful stop in data-flow order (see the file header). */
  async drain(): Promise<void> {
    await this.#fetcher?.stop();
    await this.#pump?.catch(() => undefined);
    this.#feederAbort.abort(new Error('replicator stopped'));
    await this.#batcher?.stop();
    await this.#pool?.stop();
    this.#throwFailures();
  }

  /**
   * Forced stop: aborts every part, stops the ones never started, and waits until all have
   * ended. Never rejects; the failures stay for {@link ended}.
   */
  async shutdown(reason: unknown): Promise<void> {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
    await Promise.allSettled(
      this.#stages().map(stage => (stage.state === 'idle' ? stage.stop() : stage.done))
    );
    await Promise.allSettled(this.#parts());
  }

  /**
   * The fetcher of the configured method. Into the spool, a sharded source's entries read again
   * before `start` are not delivered: the spool holds them already.
   */
  #buildFetcher(
    start: Timestamp,
    resumeToken: Document | undefined,
    into: 'batcher' | 'spool' = 'batcher'
  ): Fetcher {
    const { source, settings, logger, emit } = this.#options;
    const options = {
      ...settings.fetcher,
      signal: this.#abort.signal,
      logger,
      source,
      start
    };
    const connectShard = this.#options.connectShard;
    const fetcher =
      settings.fetchMethod === 'changeStream'
        ? new ChangeStreamFetcher({ ...options, resumeToken })
        : connectShard
          ? new ShardedOplogFetcher({
              ...options,
              connectShard,
              ...(this.#options.shards ? { shards: this.#options.shards } : {}),
              // Shard workers order their writes around migrations (shard-workers.ts).
              ...(this.#options.shardWorker ? { fromMigrate: 'deliver' as const } : {}),
              ...(into === 'spool' ? { beforeStart: 'nothing' as const } : {})
            })
          : new OplogFetcher(options);
    if (fetcher instanceof ChangeStreamFetcher) {
      fetcher.on('skipped', event => emit('skipped', event));
    }
    // Both fetchers emit the oplog fetcher's events.
    const events = fetcher as unknown as Stage<OplogFetcherEvents>;
    events.on('retry', event => emit('retry', event));
    events.on('lag', event => {
      const applied = this.#options.keeper.applied ?? event.fetchedOptime;
      const heldBack = this.#options.throttle.heldBack;
      emit('lag', {
        stage: 'replicator',
        sourceOptime: event.sourceOptime,
        appliedOptime: applied,
        seconds: Math.max(0, event.sourceOptime.t - applied.t),
        fetchedOptime: event.fetchedOptime,
        ...(heldBack === undefined ? {} : { heldBack })
      });
    });
    this.#fetcher = fetcher;
    return fetcher;
  }

  /** `input` through the shard worker's gate, when this is one of several workers. */
  #gated(input: BoundedQueue<FetchedEntry>): BoundedQueue<FetchedEntry> {
    const worker = this.#options.shardWorker;
    if (worker === undefined) return input;
    const gated = new BoundedQueue<FetchedEntry>(input.maxItems, input.maxBytes);
    // A graceful stop ends a wait at a barrier too (the other workers may be stopping): what the
    // gate holds was never delivered, so a restart reads it again.
    const signal = AbortSignal.any([this.#abort.signal, this.#feederAbort.signal]);
    this.#gate = this.#watchTask(
      worker.gate(input, gated, signal).catch((error: unknown) => {
        if (signal.aborted) return;
        throw error;
      })
    );
    return gated;
  }

  /** Starts the pool, then the batcher (consumers first). */
  async #startApplier(
    input: BoundedQueue<FetchedEntry>,
    after: Timestamp,
    window: ApplyWindow
  ): Promise<void> {
    const { catchUpUntil, replayUntil } = window;
    const { source, target, settings, filter, logger, emit, keeper } = this.#options;
    const lifecycle = { signal: this.#abort.signal, logger };
    const batcher = new ReplBatcher({
      ...settings.batcher,
      ...lifecycle,
      input,
      filter,
      resumeOptime: after,
      transactions: settings.transactions,
      shardCollections: settings.targetSharding === 'source'
    });
    const pool = new HashedApplierPool({
      ...settings.applier,
      ...lifecycle,
      input: batcher.output,
      target,
      source,
      ...(catchUpUntil ? { catchUpUntil } : {}),
      ...(replayUntil ? { replayUntil } : {}),
      throttle: this.#options.throttle,
      uniqueIndexes: keeper.uniqueIndexes,
      beforeWrite: this.#options.beforeWrite,
      onUniqueIndexes: async state => {
        keeper.uniqueIndexes = state;
        await keeper.save();
      }
    });
    this.#batcher = batcher;
    this.#pool = pool;
    batcher.on('retry', event => emit('retry', event));
    pool.on('retry', event => emit('retry', event));
    pool.on('conflict', event => emit('conflict', event));
    pool.on('uniqueIndex', event => emit('uniqueIndex', event));
    pool.on('applied', event => {
      this.#appliedThrough = event.lastOptime;
      if (keeper.recordApplied(event.checkpointOptime, event.resumeToken)) {
        this.#options.onCatchUpEnd();
      }
      emit('batch', event);
      keeper.saveIfDue();
    });
    await this.#startStage(pool);
    await this.#startStage(batcher);
  }

  /** Starts a stage and watches it: its failure aborts every other part. */
  async #startStage(stage: Lifecycle): Promise<void> {
    stage.done.catch((error: unknown) => this.#failed(error));
    await stage.start();
  }

  #watchTask(task: Promise<void>): Promise<void> {
    task.catch((error: unknown) => this.#failed(error));
    return task;
  }

  #failed(error: unknown): void {
    // A part ending because another one failed (or a forced stop) reports the abort, not a
    // failure of its own.
    if (this.#abort.signal.aborted && error === this.#abort.signal.reason) return;
    if (this.#failures.includes(error)) return;
    this.#failures.push(error);
    if (!this.#abort.signal.aborted) this.#abort.abort(error);
    // A stage built but not started yet would otherwise never end.
    for (const stage of this.#stages()) if (stage.state === 'idle') void stage.stop();
  }

  #throwFailures(): void {
    const failures = this.#failures;
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new AggregateError(failures, `${failures.length} parts of incremental sync failed`);
    }
  }

  #stages(): Lifecycle[] {
    return [this.#fetcher, this.#batcher, this.#pool].filter(
      (stage): stage is NonNullable<typeof stage> => stage !== undefined
    );
  }

  #parts(): Promise<void>[] {
    const tasks = [this.#pump, this.#feeder, this.#gate].filter(
      (task): task is Promise<void> => task !== undefined
    );
    return [...this.#stages().map(stage => stage.done), ...tasks];
  }
}
