/**
 * The copy side of modes `full` and `all`, for the Replicator: mode `all`'s start (the spool fed
 * from `fullBeginTs`), the full copy itself, and what follows it — the catch-up from the spool
 * (mode `all`) or the unique indexes enforced and the copy recorded done (mode `full`).
 *
 * ```
 * all, open:  fullBeginTs (kept in the checkpoint) → spool opened → the fetcher pumps into it
 *             (a restart past the copy applies from the spool at once)
 * run:        FullCopy → all: copyEndTs, relaxed unique indexes recorded, apply from the spool
 *                      → full: relaxed unique indexes enforced, copy recorded done
 * ```
 */
import { join } from 'node:path';

import { type Timestamp } from 'mongodb';

import { hashedApplierPoolDefaults } from '../apply/hashed-applier-pool-options.js';
import { type UniqueIndexEvent } from '../apply/unique-guard.js';
import { type Checkpoint, type ReplicationPhase } from '../checkpoint/checkpoint.js';
import { type RetryEvent } from '../events.js';
import { type CopyProgressEvent } from '../full/collection-executor.js';
import { type FullCopy } from '../full/full-copy.js';
import { type Logger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type ResolvedReplicatorOptions } from '../replicator-options.js';
import { OplogSpool } from '../spool/oplog-spool.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { type CheckpointKeeper } from './checkpoint-keeper.js';
import { enforceCopiedUniqueIndexes, recordCopiedUniqueIndexes } from './copied-unique-indexes.js';
import { startCopy } from './copy-run.js';
import { type DeploymentClients } from './deployment-clients.js';
import { type IncrementalPipeline } from './incremental-pipeline.js';
import { replayUntil } from './source-position.js';

/**
 * What {@link CopyPhase} needs from the Replicator.
 * @internal
 */
export interface CopyPhaseOptions {
  readonly clients: DeploymentClients;
  readonly options: ResolvedReplicatorOptions;
  readonly filter: NamespaceFilter;
  readonly keeper: CheckpointKeeper;
  readonly pipeline: IncrementalPipeline;
  readonly logger: Logger;
  /** The lease check, run before every write to the target. */
  readonly beforeWrite: () => void;
  readonly throttle: WriteThrottle;
  /** Whether the spool needs its own lock (no lease makes this process the job's only owner). */
  readonly lockSpool: boolean;
  readonly newestOptime: () => Promise<Timestamp>;
  readonly onPhase: (phase: ReplicationPhase, optime?: Timestamp) => void;
  readonly onProgress: (event: CopyProgressEvent) => void;
  readonly onRetry: (event: RetryEvent) => void;
  readonly onUniqueIndex: (event: UniqueIndexEvent) => void;
}

/**
 * The copy and what surrounds it (see the file header).
 * @internal
 */
export class CopyPhase {
  readonly #o: CopyPhaseOptions;
  #copy: FullCopy | undefined;
  #spool: OplogSpool | undefined;

  constructor(options: CopyPhaseOptions) {
    this.#o = options;
  }

  /** Mode `all`: the spool the fetcher feeds, once open. */
  get spool(): OplogSpool | undefined {
    return this.#spool;
  }

  /** Mode `full`'s start: a new copy is recorded; a finished one says there is nothing to do. */
  async startFull(checkpoint: Checkpoint | undefined): Promise<void> {
    const { keeper } = this.#o;
    if (!checkpoint) await keeper.save();
    if (keeper.copiedAt !== undefined) this.#o.logger.warn(keeper.copiedNotice());
  }

  /**
   * Mode `all`'s start: everything from `fullBeginTs` on is fetched into the spool, copy or no
   * copy; past the copy, applying from the spool starts at once.
   */
  async startAll(checkpoint: Checkpoint | undefined): Promise<void> {
    const { keeper, options, pipeline } = this.#o;
    keeper.fullBeginTs ??= await this.#o.newestOptime();
    const applied = keeper.applied ?? keeper.fullBeginTs;
    keeper.startAt(applied);
    if (!checkpoint) await keeper.save();
    this.#spool = await OplogSpool.open(join(options.spoolDir, options.checkpoint.name), {
      logger: this.#o.logger,
      lock: this.#o.lockSpool
    });
    await pipeline.startSpooling(this.#spool, applied, keeper.appliedToken);
    if (keeper.phase === 'full') return;
    await this.#applySpool(await replayUntil(checkpoint?.lastApplied, this.#o.newestOptime));
  }

  /**
   * Runs the copy, then the catch-up (mode `all`) or the copy's end (mode `full`).
   * @param stopping - Whether `stop()` is under way: a copy it ended is not a failure even when
   * the pipeline's signal was aborted meanwhile.
   */
  async run(signal: AbortSignal, stopping: () => boolean): Promise<void> {
    if (!(await this.#runCopy(signal, stopping))) return;
    if (this.#o.options.mode === 'all') await this.#beginCatchUp();
    else await this.#finish();
  }

  /** Graceful: the copy records its finished ranges and ends. */
  async stop(): Promise<void> {
    await this.#copy?.stop();
  }

  /** Runs the full copy; false when a stop ended it first. */
  async #runCopy(signal: AbortSignal, stopping: () => boolean): Promise<boolean> {
    const { keeper, pipeline } = this.#o;
    this.#o.onPhase('full', keeper.fullBeginTs);
    this.#copy = startCopy({
      clients: this.#o.clients,
      options: this.#o.options,
      filter: this.#o.filter,
      keeper,
      logger: this.#o.logger,
      // A failing fetcher (mode all) stops the copy too: its entries could not be applied.
      signal: pipeline.signal,
      onProgress: this.#o.onProgress,
      onRetry: this.#o.onRetry,
      beforeWrite: this.#o.beforeWrite,
      throttle: this.#o.throttle
    });
    const result = await this.#copy.run();
    // stop() may have released the pipeline (its signal aborted) while the copy saved its state.
    if (result === 'stopped' && stopping()) return false;
    signal.throwIfAborted();
    pipeline.signal.throwIfAborted();
    if (result === 'stopped') return false;
    this.#o.logger.info('The full copy is done', { collections: keeper.copiedCollections });
    return true;
  }

  /** After the copy (mode all): apply what the spool holds, then keep tailing through it. */
  async #beginCatchUp(): Promise<void> {
    const { keeper } = this.#o;
    keeper.beginCatchUp(await this.#o.newestOptime());
    const relaxed = this.#copy?.relaxedUniqueIndexes ?? [];
    await recordCopiedUniqueIndexes(relaxed, keeper, this.#o.onUniqueIndex);
    await this.#applySpool(undefined);
    // Nothing was written during the copy: there is nothing to catch up on.
    if (keeper.endCatchUpIfReached()) this.#o.onPhase('incr');
  }

  async #applySpool(replayUntil: Timestamp | undefined): Promise<void> {
    const { keeper } = this.#o;
    this.#o.onPhase(keeper.phase, keeper.applied);
    await this.#o.pipeline.startApplyingSpool(this.#spool!, keeper.applied!, {
      catchUpUntil: keeper.copyEndTs,
      replayUntil
    });
  }

  /** Mode full: the unique indexes the copy relaxed are enforced, and the copy recorded done. */
  async #finish(): Promise<void> {
    const { uniqueConflictPolicy } = this.#o.options.applier;
    const relaxed = this.#copy?.relaxedUniqueIndexes ?? [];
    await enforceCopiedUniqueIndexes(this.#o.clients.target, relaxed, this.#o.keeper, {
      policy: uniqueConflictPolicy ?? hashedApplierPoolDefaults.uniqueConflictPolicy,
      emit: this.#o.onUniqueIndex,
      beforeWrite: this.#o.beforeWrite
    });
    await this.#o.keeper.markCopied();
  }
}
