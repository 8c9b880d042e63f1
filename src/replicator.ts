/**
 * Replicator: wires the stages together and forwards their events; it holds no replication logic.
 *
 * ```
 * incr: open: connect → load checkpoint (or resolve startAt) → start pool, batcher, fetcher
 *       run:  until a stage fails (then abort the others) or all end
 * full: run:  FullCopy (catalog, split, ranges, indexes, views), recording done ranges → end
 * all:  open: fullBeginTs = source's newest optime (kept in the checkpoint); the fetcher starts
 *             there at once and pumps into the OplogSpool while the copy runs
 *       run:  FullCopy → copyEndTs → pool (misses up to copyEndTs expected) ← batcher ← spool
 *             (phase catchup, then incr once copyEndTs is applied)
 * stop: copy → fetcher → batcher → pool drain in data-flow order → final checkpoint → close
 * ```
 *
 * The fetcher is an OplogFetcher or, with `fetchMethod: 'changeStream'`, a ChangeStreamFetcher;
 * both deliver the same entries, and the change stream's resume token rides along with them to
 * the checkpoint.
 */
import { join } from 'node:path';

import { type Document, MongoClient, type Timestamp } from 'mongodb';

import {
  type AppliedBatchEvent,
  type ApplierConflictEvent,
  HashedApplierPool
} from './apply/hashed-applier-pool.js';
import { ReplBatcher } from './batch/repl-batcher.js';
import {
  type Checkpoint,
  type CopiedCollection,
  type ReplicationPhase
} from './checkpoint/checkpoint.js';
import { type CheckpointStore } from './checkpoint/checkpoint-store.js';
import { MongoCheckpointStore } from './checkpoint/mongo-checkpoint-store.js';
import {
  CheckpointError,
  InvalidConfigError,
  ReplicationError,
  SourceReadError
} from './errors.js';
import { type LagEvent } from './events.js';
import { ChangeStreamFetcher, type SkippedChangeEvent } from './fetch/change-stream-fetcher.js';
import { OplogFetcher, type OplogFetcherEvents } from './fetch/oplog-fetcher.js';
import { type CopyProgressEvent } from './full/collection-executor.js';
import { FullCopy } from './full/full-copy.js';
import { BoundedQueue } from './lifecycle/bounded-queue.js';
import { classifyError } from './lifecycle/classify-error.js';
import { Stage, type StageEvents } from './lifecycle/stage.js';
import { redactText } from './logger.js';
import { NamespaceFilter } from './namespace/namespace-filter.js';
import { type FetchedEntry } from './pipeline/pipeline-items.js';
import {
  type ReplicatorOptions,
  type ResolvedReplicatorOptions,
  resolveReplicatorOptions
} from './replicator-options.js';
import { OplogSpool } from './spool/oplog-spool.js';
import { feedFromSpool, pumpToSpool } from './spool/spool-bridge.js';

/**
 * A checkpoint was written.
 * @public
 */
export interface CheckpointEvent {
  /** The checkpoint's name. */
  readonly name: string;
  /** The optime it records: replication resumes after it. */
  readonly optime: Timestamp;
  /** When it was written. */
  readonly savedAt: Date;
}

/**
 * The replicator entered a phase: `full` (copying), `catchup` (applying what was written during
 * the copy), `incr` (tailing).
 * @public
 */
export interface PhaseEvent {
  /** The phase entered. */
  readonly phase: ReplicationPhase;
  /** The optime the phase starts from, when it has one (catch-up starts at `fullBeginTs`). */
  readonly optime?: Timestamp;
}

/**
 * Options of {@link Replicator.fence}.
 * @public
 */
export interface FenceOptions {
  /**
   * The source collection the marker is written to (one document per checkpoint name). It
   * needs no special treatment by the filter: a filtered-out marker still moves the applied
   * position past it.
   * @defaultValue 'mongo_replicate.fences'
   */
  namespace?: string;
  /** Rejects the wait with `signal.reason` when it aborts (use it as a deadline). */
  signal?: AbortSignal;
}

/**
 * What {@link Replicator.fence} resolves with: every source write made before the fence is on
 * the target.
 * @public
 */
export interface FenceResult {
  /** The optime of the marker write on the source. */
  readonly optime: Timestamp;
  /** Where the marker was written. */
  readonly namespace: string;
  /** How long the target took to apply up to the marker. */
  readonly durationMs: number;
}

/** Where fence markers go by default. */
const DEFAULT_FENCE_NAMESPACE = 'mongo_replicate.fences';

/**
 * Events of {@link Replicator}: its own lifecycle plus what its stages report.
 * @public
 */
export interface ReplicatorEvents extends StageEvents {
  /** Full copy progress of one target namespace (documents, bytes, ranges, rate, ETA). */
  progress: (event: CopyProgressEvent) => void;
  /** A phase began. */
  phase: (event: PhaseEvent) => void;
  /** A batch was applied on the target (every lane finished it). */
  batch: (event: AppliedBatchEvent) => void;
  /** Change streams: an event had nothing to apply on the target (it is not dropped silently). */
  skipped: (event: SkippedChangeEvent) => void;
  /** An update or delete found no document on the target after catch-up. */
  conflict: (event: ApplierConflictEvent) => void;
  /** Replication lag: the source's newest optime against the last applied one. */
  lag: (event: LagEvent) => void;
  /** A checkpoint was written. */
  checkpoint: (event: CheckpointEvent) => void;
}

/**
 * Replicates a MongoDB source into a target: copies it (modes `full` and `all`), tails the source
 * oplog and applies it (modes `incr` and `all`), resuming from its checkpoint after a stop or a
 * crash.
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
  /** The options as resolved (defaults applied, validated). */
  readonly options: ResolvedReplicatorOptions;
  #source: MongoClient | undefined;
  #target: MongoClient | undefined;
  readonly #ownClients: MongoClient[] = [];
  #store: CheckpointStore | undefined;
  #fetcher: OplogFetcher | ChangeStreamFetcher | undefined;
  #batcher: ReplBatcher | undefined;
  #pool: HashedApplierPool | undefined;
  #copy: FullCopy | undefined;
  #spool: OplogSpool | undefined;
  /** Mode `all`: the spool pump and feeder, which fail the replicator like a stage would. */
  readonly #tasks: Promise<void>[] = [];
  readonly #feederAbort = new AbortController();
  readonly #stagesAbort = new AbortController();
  #phase: ReplicationPhase = 'incr';
  #fullBeginTs: Timestamp | undefined;
  #copyEndTs: Timestamp | undefined;
  #copyState: readonly CopiedCollection[] | undefined;
  #applied: Timestamp | undefined;
  /** Change streams: the resume token of the last applied batch. */
  #appliedToken: Document | undefined;
  #saved: Timestamp | undefined;
  #lastSaveAt = 0;
  #saving: Promise<void> = Promise.resolve();
  #draining: Promise<void> | undefined;

  constructor(options: ReplicatorOptions) {
    const resolved = resolveReplicatorOptions(options);
    super('replicator', {
      ...(resolved.signal ? { signal: resolved.signal } : {}),
      ...(resolved.logger ? { logger: resolved.logger } : {})
    });
    this.options = resolved;
    // Constructing the filter validates it before any I/O.
    new NamespaceFilter(resolved.filter ?? {});
  }

  /** The optime of the last batch applied on the target, once one was. */
  get appliedOptime(): Timestamp | undefined {
    return this.#applied;
  }

  /** The current phase: `full` (copying), `catchup` or `incr`. */
  get phase(): ReplicationPhase {
    return this.#phase;
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
   * @throws {@link InvalidConfigError} in mode `full` (nothing tails the source), or when the
   * replicator is not running
   * @throws {@link SourceReadError} when the marker cannot be written
   */
  async fence(options: FenceOptions = {}): Promise<FenceResult> {
    if (this.options.mode === 'full') {
      throw new InvalidConfigError(
        'mode',
        'fence() needs mode "incr" or "all": mode "full" does not follow the source'
      );
    }
    if (this.state !== 'running' || this.#source === undefined) {
      throw new InvalidConfigError('fence', `the replicator must be running (it is ${this.state})`);
    }
    const namespace = options.namespace ?? DEFAULT_FENCE_NAMESPACE;
    const dot = namespace.indexOf('.');
    if (dot <= 0 || dot === namespace.length - 1) {
      throw new InvalidConfigError('fence.namespace', 'must be a "db.collection" name');
    }
    const started = performance.now();
    const session = this.#source.startSession();
    let optime: Timestamp | undefined;
    try {
      await this.#source
        .db(namespace.slice(0, dot))
        .collection<{ _id: string }>(namespace.slice(dot + 1))
        .updateOne(
          { _id: this.options.checkpoint.name },
          { $set: { at: new Date() }, $inc: { fences: 1 } },
          { upsert: true, session, ...(options.signal ? { signal: options.signal } : {}) }
        );
      optime = session.operationTime;
    } catch (error) {
      throw new SourceReadError(
        `Writing the fence marker to ${namespace} on the source failed: ${redactText(error instanceof Error ? error.message : String(error))}`,
        classifyError(error).retryable,
        {
          namespace,
          cause: error,
          hint: `fence() writes one document to ${namespace} on the source; grant the source user write access there, or pass another namespace`
        }
      );
    } finally {
      await session.endSession();
    }
    if (optime === undefined) {
      throw new SourceReadError(
        'The source reported no operationTime for the fence marker',
        false,
        {
          namespace,
          hint: 'The source must be a replica set'
        }
      );
    }
    const marker = optime;
    const reached = () => this.#applied !== undefined && !this.#applied.lessThan(marker);
    if (!reached()) {
      await this.waitFor('batch', {
        filter: () => reached(),
        ...(options.signal ? { signal: options.signal } : {})
      });
    }
    return { optime: marker, namespace, durationMs: performance.now() - started };
  }

  /** Connects, loads the checkpoint and starts what the mode and the checkpoint call for. */
  protected override async open(signal: AbortSignal): Promise<void> {
    try {
      await this.#open(signal);
    } catch (error) {
      // Nothing runs after a failed start: release what was opened so the host can exit.
      this.#stagesAbort.abort(error);
      // A stage that was never started only ends through stop().
      await Promise.allSettled([
        ...this.#stages().map(stage => (stage.state === 'idle' ? stage.stop() : stage.done)),
        ...this.#tasks
      ]);
      await this.#spool?.close().catch(() => undefined);
      await this.#closeClients();
      throw error;
    }
  }

  async #open(signal: AbortSignal): Promise<void> {
    const { options } = this;
    this.#source = await this.#connect(options.source, 'source');
    this.#target = await this.#connect(options.target, 'target');
    signal.throwIfAborted();
    this.#store = options.checkpoint.store ?? new MongoCheckpointStore(this.#target);
    const checkpoint = await this.#store.load(options.checkpoint.name);
    if (checkpoint && checkpoint.mode !== options.mode) {
      // Resuming one mode's checkpoint in another would skip writes (a finished full copy has no
      // oplog position) or tail over an unfinished copy.
      throw new CheckpointError(
        `Checkpoint "${checkpoint.name}" was written in mode "${checkpoint.mode}", not "${options.mode}"`,
        false,
        {
          hint: `Restart with mode "${checkpoint.mode}", or choose a new checkpoint name to start over in mode "${options.mode}"`
        }
      );
    }
    if (checkpoint && (checkpoint.fetchMethod ?? 'oplog') !== options.fetchMethod) {
      throw new CheckpointError(
        `Checkpoint "${checkpoint.name}" was written with fetchMethod "${checkpoint.fetchMethod ?? 'oplog'}", not "${options.fetchMethod}"`,
        false,
        {
          hint: `Restart with fetchMethod "${checkpoint.fetchMethod ?? 'oplog'}", or choose a new checkpoint name to start over`
        }
      );
    }
    this.#appliedToken = checkpoint?.resumeToken;
    if (options.mode === 'incr') {
      const start = checkpoint?.lastApplied ?? (await this.#newestOptime());
      this.#phase = 'incr';
      this.#applied = start;
      if (checkpoint) this.#saved = start;
      else await this.#save(start, true);
      const fetcher = this.#startFetcher(start, this.#appliedToken);
      await this.#startApplier(fetcher.output, start);
      await fetcher.start();
      return;
    }
    this.#phase = checkpoint?.phase ?? 'full';
    this.#copyState = checkpoint?.copy;
    this.#copyEndTs = checkpoint?.copyEndTs;
    if (options.mode === 'full') {
      if (!checkpoint) await this.#save(undefined, true);
      return;
    }
    // Mode all: everything from fullBeginTs on is fetched into the spool, copy or no copy.
    this.#fullBeginTs = checkpoint?.fullBeginTs ?? (await this.#newestOptime());
    this.#applied = checkpoint?.lastApplied ?? this.#fullBeginTs;
    if (!checkpoint) await this.#save(this.#applied, true);
    else this.#saved = this.#applied;
    this.#spool = await OplogSpool.open(join(options.spoolDir, options.checkpoint.name), {
      logger: this.logger
    });
    const spooled = this.#spool.lastOptime;
    const fromSpool = spooled !== undefined && this.#applied.lessThan(spooled);
    // After the spool's last entry a change stream restarts at its optime: every change of one
    // cluster time is in one spooled entry, so nothing of it is missed.
    const fetcher = fromSpool
      ? this.#startFetcher(spooled, undefined)
      : this.#startFetcher(this.#applied, this.#appliedToken);
    this.#addTask(pumpToSpool(fetcher.output, this.#spool, this.#stagesAbort.signal));
    await fetcher.start();
    if (this.#phase !== 'full') await this.#startSpoolApplier();
  }

  /** Copies (modes `full` and `all`), then runs until a stage fails or every stage has ended. */
  protected override async run(signal: AbortSignal): Promise<void> {
    // A forced stop reaches every stage: each ends at its next safe point without draining.
    const abortStages = () => this.#stagesAbort.abort(signal.reason);
    if (signal.aborted) abortStages();
    else signal.addEventListener('abort', abortStages, { once: true });
    try {
      if (this.options.mode !== 'incr' && this.#phase === 'full') {
        const copied = await this.#runCopy(signal);
        if (copied && this.options.mode === 'all') await this.#beginCatchUp();
      }
      await this.#watchStages();
    } catch (error) {
      // One part failed: the others cannot make progress; stop them at once.
      this.#stagesAbort.abort(error);
      await Promise.allSettled([...this.#stages().map(stage => stage.done), ...this.#tasks]);
      await this.#spool?.close().catch(() => undefined);
      await this.#closeClients();
      throw error;
    } finally {
      signal.removeEventListener('abort', abortStages);
    }
    if (this.#draining) await this.#draining;
    else if (signal.aborted || this.options.mode === 'full') {
      // A forced stop, the source ended, or a finished copy: release the resources.
      await this.#spool?.close().catch(() => undefined);
      await this.#closeClients();
    }
  }

  /** Stops in data-flow order, writes the last checkpoint, closes the spool and own clients. */
  protected override drain(): Promise<void> {
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  async #drain(): Promise<void> {
    await this.#copy?.stop();
    // Data-flow order: the fetcher closes its output, the pump spools what is left (mode all);
    // what the feeder already handed on is applied, the rest stays spooled for the restart.
    await this.#fetcher?.stop();
    await Promise.allSettled(this.#tasks.slice(0, 1));
    this.#feederAbort.abort(new Error('replicator stopped'));
    await this.#batcher?.stop();
    await this.#pool?.stop();
    await this.#saving;
    if (this.#applied && !(this.#saved && this.#applied.equals(this.#saved))) {
      await this.#save(this.#applied, true);
    }
    await this.#spool?.close();
    await this.#closeClients();
  }

  /** Wraps anything thrown into a typed error (a ReplicationError passes through). */
  protected override toReplicationError(error: unknown): ReplicationError {
    if (ReplicationError.is(error)) return error;
    const { retryable, hint } = classifyError(error);
    return new SourceReadError(
      redactText(error instanceof Error ? error.message : String(error)),
      retryable,
      {
        cause: error,
        hint
      }
    );
  }

  #stages(): Stage<StageEvents>[] {
    return [this.#fetcher, this.#batcher, this.#pool].filter(
      (stage): stage is NonNullable<typeof stage> => stage !== undefined
    ) as Stage<StageEvents>[];
  }

  /** Resolves when every stage and task has ended; rejects with the first failure. */
  async #watchStages(): Promise<void> {
    const parts: Promise<void>[] = [...this.#stages().map(stage => stage.done), ...this.#tasks];
    if (parts.length === 0) return;
    await new Promise<void>((resolve, reject) => {
      for (const part of parts) part.catch(reject);
      Promise.all(parts).then(() => resolve(), reject);
    });
  }

  /** Runs the full copy; false when a stop ended it first. */
  async #runCopy(signal: AbortSignal): Promise<boolean> {
    const { options } = this;
    const full = options.full ?? {};
    this.#emitPhase('full', this.#fullBeginTs);
    this.#copy = new FullCopy({
      source: this.#source!,
      target: this.#target!,
      filter: new NamespaceFilter(options.filter ?? {}),
      indexes: options.indexes,
      onExistingTarget: options.onExistingTarget,
      onDuplicate: options.onDuplicate,
      splitter: full.splitter ?? {},
      executor: full.executor ?? {},
      logger: this.logger,
      signal: this.#stagesAbort.signal,
      resume: this.#copyState,
      saveState: async state => {
        this.#copyState = state;
        await this.#save(this.#applied, true);
      },
      onProgress: event => this.safeEmit('progress', event),
      onRetry: event => this.safeEmit('retry', event)
    });
    const result = await this.#copy.run();
    signal.throwIfAborted();
    this.#stagesAbort.signal.throwIfAborted();
    if (result === 'stopped') return false;
    this.logger.info('The full copy is done', { collections: this.#copyState?.length ?? 0 });
    return true;
  }

  /** After the copy (mode all): apply what the spool holds, then keep tailing through it. */
  async #beginCatchUp(): Promise<void> {
    this.#copyEndTs = await this.#newestOptime();
    this.#phase = 'catchup';
    await this.#save(this.#applied, true);
    await this.#startSpoolApplier();
    if (!this.#applied!.lessThan(this.#copyEndTs)) {
      // Nothing was written during the copy: there is nothing to catch up on.
      this.#phase = 'incr';
      this.#emitPhase('incr', this.#applied);
    }
  }

  async #startSpoolApplier(): Promise<void> {
    const after = this.#applied!;
    this.#emitPhase(this.#phase, after);
    const feed = new BoundedQueue<FetchedEntry>(
      this.options.fetcher?.bufferMaxEntries ?? 10_000,
      this.options.fetcher?.bufferMaxBytes ?? 64 * 1024 * 1024
    );
    const feederSignal = AbortSignal.any([this.#stagesAbort.signal, this.#feederAbort.signal]);
    const feeder = feedFromSpool(this.#spool!, after, feed, feederSignal).catch(
      (error: unknown) => {
        // Stopped (a stop drains what was fed; the rest stays spooled) or aborted: whoever
        // aborted reports why, so the abort reason is not a failure of the feeder.
        if (feederSignal.aborted) return;
        throw error;
      }
    );
    this.#addTask(feeder);
    await this.#startApplier(feed, after);
  }

  /**
   * Tracks a background task of mode all. Its failure stops everything at once (the copy too,
   * which may still run for a long time before the stages are watched), and is reported by run().
   */
  #addTask(task: Promise<void>): void {
    task.catch((error: unknown) => {
      if (!this.#stagesAbort.signal.aborted) this.#stagesAbort.abort(error);
    });
    this.#tasks.push(task);
  }

  #startFetcher(
    start: Timestamp,
    resumeToken: Document | undefined
  ): OplogFetcher | ChangeStreamFetcher {
    const fetcherOptions = {
      ...this.options.fetcher,
      signal: this.#stagesAbort.signal,
      logger: this.logger,
      source: this.#source!,
      start
    };
    const fetcher =
      this.options.fetchMethod === 'changeStream'
        ? new ChangeStreamFetcher({ ...fetcherOptions, resumeToken })
        : new OplogFetcher(fetcherOptions);
    this.#fetcher = fetcher;
    if (fetcher instanceof ChangeStreamFetcher) {
      fetcher.on('skipped', event => this.safeEmit('skipped', event));
    }
    // Both fetchers emit the oplog fetcher's events.
    const events = fetcher as unknown as Stage<OplogFetcherEvents>;
    events.on('retry', event => this.safeEmit('retry', event));
    events.on('lag', event => {
      const applied = this.#applied ?? event.fetchedOptime;
      this.safeEmit('lag', {
        stage: 'replicator',
        sourceOptime: event.sourceOptime,
        appliedOptime: applied,
        seconds: Math.max(0, event.sourceOptime.t - applied.t)
      });
    });
    return fetcher;
  }

  /** Starts the pool and the batcher (consumers first, so nothing fills an unread queue). */
  async #startApplier(input: BoundedQueue<FetchedEntry>, after: Timestamp): Promise<void> {
    const { options } = this;
    const stageOptions = { signal: this.#stagesAbort.signal, logger: this.logger };
    this.#batcher = new ReplBatcher({
      ...options.batcher,
      ...stageOptions,
      input,
      filter: new NamespaceFilter(options.filter ?? {}),
      resumeOptime: after,
      transactions: options.transactions
    });
    this.#pool = new HashedApplierPool({
      ...options.applier,
      ...stageOptions,
      input: this.#batcher.output,
      target: this.#target!,
      source: this.#source!,
      ...(this.#copyEndTs ? { catchUpUntil: this.#copyEndTs } : {})
    });
    for (const stage of [this.#batcher, this.#pool] as Stage<StageEvents>[]) {
      stage.on('retry', event => this.safeEmit('retry', event));
    }
    this.#pool.on('applied', event => {
      this.#applied = event.checkpointOptime;
      // A batch without a token (none today with change streams) must not leave an older token
      // paired with a newer optime: the restart then resumes from the optime alone.
      if (this.options.fetchMethod === 'changeStream') this.#appliedToken = event.resumeToken;
      if (this.#phase === 'catchup' && !this.#applied.lessThan(this.#copyEndTs!)) {
        this.#phase = 'incr';
        this.#emitPhase('incr', this.#applied);
      }
      this.safeEmit('batch', event);
      if (Date.now() - this.#lastSaveAt >= this.options.checkpointIntervalMs) {
        void this.#save(event.checkpointOptime, false);
      }
    });
    this.#pool.on('conflict', event => this.safeEmit('conflict', event));
    await this.#pool.start();
    await this.#batcher.start();
  }

  #emitPhase(phase: ReplicationPhase, optime: Timestamp | undefined): void {
    this.logger.info(`Phase ${phase}`, optime ? { optime: `${optime.t}:${optime.i}` } : {});
    this.safeEmit('phase', { phase, ...(optime ? { optime } : {}) });
  }

  async #connect(value: string | MongoClient, role: 'source' | 'target'): Promise<MongoClient> {
    if (typeof value !== 'string') return value;
    const client = new MongoClient(value);
    this.#ownClients.push(client);
    try {
      await client.connect();
    } catch (error) {
      throw new SourceReadError(
        `Cannot connect to the ${role}: ${redactText(error instanceof Error ? error.message : String(error))}`,
        true,
        {
          cause: error,
          hint: `Check the ${role} connection string, that the deployment is reachable and that it is a replica set`
        }
      );
    }
    return client;
  }

  /** `startAt` as an optime in mode incr; the source's newest entry otherwise or for 'latest'. */
  async #newestOptime(): Promise<Timestamp> {
    const startAt = this.options.startAt;
    if (this.options.mode === 'incr' && startAt !== 'latest') return startAt;
    if (this.options.fetchMethod === 'changeStream') return this.#sourceOperationTime();
    const [newest] = await this.#source!.db('local')
      .collection('oplog.rs')
      .find({}, { sort: { $natural: -1 }, limit: 1, projection: { ts: 1 } })
      .toArray();
    if (!newest) {
      throw new SourceReadError('The source has an empty oplog', false, {
        hint: 'The source must be a replica set member with an oplog (local.oplog.rs)'
      });
    }
    return newest.ts as Timestamp;
  }

  /**
   * The source's latest optime without reading the oplog (change streams may not read it), once
   * every write up to it is majority-committed. The operation time may be ahead of writes still
   * committing with earlier optimes (oplog holes): a copy read before they land would miss them,
   * and so would a stream starting after that optime. A majority read after it waits them out.
   */
  async #sourceOperationTime(): Promise<Timestamp> {
    const source = this.#source!;
    const reply = await source.db('admin').command({ ping: 1 });
    const ts: unknown = reply.operationTime;
    if (
      ts === null ||
      typeof ts !== 'object' ||
      (ts as { _bsontype?: unknown })._bsontype !== 'Timestamp'
    ) {
      throw new SourceReadError('The source reported no operationTime', false, {
        hint: 'Change streams need a replica set source, not a standalone mongod'
      });
    }
    const session = source.startSession({ causalConsistency: true });
    try {
      session.advanceOperationTime(ts as Timestamp);
      // Any collection serves: only the read concern's wait matters.
      await source
        .db(DEFAULT_FENCE_NAMESPACE.split('.')[0]!)
        .collection(DEFAULT_FENCE_NAMESPACE.split('.')[1]!)
        .findOne({}, { session, readConcern: { level: 'majority' }, projection: { _id: 1 } });
    } finally {
      await session.endSession();
    }
    return ts as Timestamp;
  }

  /**
   * Writes a checkpoint; saves are serialized so an older one never overwrites a newer one. In
   * mode all, spool segments the checkpoint has passed are then deleted.
   */
  #save(optime: Timestamp | undefined, wait: boolean): Promise<void> {
    this.#lastSaveAt = Date.now();
    const checkpoint: Checkpoint = {
      name: this.options.checkpoint.name,
      version: 1,
      mode: this.options.mode,
      phase: this.#phase,
      ...(this.options.fetchMethod === 'oplog' ? {} : { fetchMethod: this.options.fetchMethod }),
      ...(optime ? { lastApplied: optime } : {}),
      ...(optime && this.#appliedToken ? { resumeToken: this.#appliedToken } : {}),
      ...(this.#fullBeginTs ? { fullBeginTs: this.#fullBeginTs } : {}),
      ...(this.#copyEndTs ? { copyEndTs: this.#copyEndTs } : {}),
      ...(this.#copyState ? { copy: this.#copyState } : {}),
      updatedAt: new Date()
    };
    const next = this.#saving.then(async () => {
      await this.#store!.save(checkpoint);
      this.#saved = optime;
      if (optime) {
        this.safeEmit('checkpoint', {
          name: checkpoint.name,
          optime,
          savedAt: checkpoint.updatedAt
        });
        // A save that finishes after a forced stop closed the spool leaves the segments: the next
        // run's next save discards them.
        const spool = this.#spool;
        if (this.#phase !== 'full' && spool !== undefined && !spool.closed) {
          await spool.discardThrough(optime);
        }
      }
    });
    this.#saving = next.catch(error => {
      this.fail(this.toReplicationError(error));
    });
    if (wait) return next;
    return this.#saving;
  }

  async #closeClients(): Promise<void> {
    const clients = this.#ownClients.splice(0);
    await Promise.allSettled(clients.map(client => client.close()));
  }
}
