/**
 * CheckpointKeeper: what the Replicator knows of its position, and the one place that writes it.
 *
 * It holds the phase, the oplog positions (`fullBeginTs`, `copyEndTs`, the last applied optime and
 * its change-stream token) and the copy's state; it composes a {@link Checkpoint} from them, and
 * saves it:
 *
 * - in call order (a save never overtakes an earlier one, so an older position never lands last);
 * - throttled while batches are applied (`saveIfDue`) and while the copy finishes ranges
 *   (`copyRangeDone`): at most once per `intervalMs`; at once at a phase switch or a new copy plan
 *   (`save`); on stop, and at the end of the copy, only if something moved since (`flush`);
 * - the copy's state in one record per collection when the store keeps it apart (a
 *   `CopyStateStore`: the stores of this package), so a save writes only the collections whose
 *   ranges changed and the checkpoint stays small; inside the checkpoint otherwise. A checkpoint
 *   that holds its copy inline (an older release) moves it to records at its next save;
 * - after a save names an optime, `afterSave` runs (mode `all` discards the spool up to it).
 *
 * A failing store surfaces as a {@link CheckpointError} (retryable per the driver's verdict),
 * whatever the store threw; a save that fails in the background is reported to `onFailure`.
 */
import { type Document, type Timestamp } from 'mongodb';

import { type UniqueGuardState } from '../apply/unique-guard.js';
import {
  type Checkpoint,
  type CopiedCollection,
  type ReplicationPhase
} from '../checkpoint/checkpoint.js';
import { type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { isCopyStateStore, loadCheckpoint } from '../checkpoint/copy-state-store.js';
import { CheckpointError, type ReplicationError } from '../errors.js';
import { type LeaseToken } from '../lease/lease.js';
import { sideError } from '../lifecycle/side-errors.js';
import { type CheckpointEvent } from '../replicator-events.js';
import { type CopyChanges, CopyProgress } from './copy-progress.js';

/**
 * What {@link CheckpointKeeper} needs.
 * @internal
 */
export interface CheckpointKeeperOptions {
  readonly store: CheckpointStore;
  readonly name: string;
  readonly mode: Checkpoint['mode'];
  readonly fetchMethod: 'oplog' | 'changeStream';
  /** Least time between two throttled saves. */
  readonly intervalMs: number;
  /** What the checkpoint is bound to: a stored one written for anything else is refused. */
  readonly binding: CheckpointBinding;
  /** A save that names an applied optime is durable. */
  readonly onSaved?: (event: CheckpointEvent) => void;
  /** Runs after each save that names an optime, before the next save starts. */
  readonly afterSave?: (optime: Timestamp) => Promise<void>;
  /** A save started without waiting for it failed. */
  readonly onFailure?: (error: ReplicationError) => void;
  /** The lease saves are made under, once held: the store refuses them after a takeover. */
  readonly lease?: () => LeaseToken | undefined;
}

/**
 * The job a checkpoint belongs to, besides its mode and fetch method.
 * @internal
 */
export interface CheckpointBinding {
  /** The source deployment's identity, when it reports one. */
  readonly sourceId: string | undefined;
  /** The filter's fingerprint (`namespace/filter-fingerprint.ts`). */
  readonly filterFingerprint: string;
  /** A shard worker's shards, sorted; undefined: every shard. */
  readonly sourceShards?: readonly string[] | undefined;
}

/**
 * Keeps and saves the replicator's position (see the file header).
 * @internal
 */
export class CheckpointKeeper {
  readonly #options: CheckpointKeeperOptions;
  phase: ReplicationPhase = 'incr';
  fullBeginTs: Timestamp | undefined;
  copyEndTs: Timestamp | undefined;
  readonly #copy = new CopyProgress();
  /** Mode full: when the whole copy finished. */
  copiedAt: Date | undefined;
  /** Unique indexes kept relaxed, and namespaces applied in source order. */
  uniqueIndexes: UniqueGuardState = { relaxedIndexes: [], orderedNamespaces: [] };
  #applied: Timestamp | undefined;
  #appliedToken: Document | undefined;
  #saved: Timestamp | undefined;
  #lastSaveAt = Number.NEGATIVE_INFINITY;
  #saving: Promise<void> = Promise.resolve();

  constructor(options: CheckpointKeeperOptions) {
    this.#options = options;
  }

  /** The optime of the last batch applied everywhere (or where applying starts). */
  get applied(): Timestamp | undefined {
    return this.#applied;
  }

  /** Change streams: the resume token of {@link CheckpointKeeper.applied}. */
  get appliedToken(): Document | undefined {
    return this.#appliedToken;
  }

  /**
   * Loads the stored checkpoint and takes its state.
   * @throws {@link CheckpointError} when the store fails, or the checkpoint was written in
   * another mode or with another fetch method (resuming it would skip writes)
   */
  async load(): Promise<Checkpoint | undefined> {
    const { store, name, mode, fetchMethod } = this.#options;
    const checkpoint = await this.#call('Loading', () => loadCheckpoint(store, name));
    if (checkpoint === undefined) return undefined;
    if (checkpoint.mode !== mode) {
      // Resuming one mode's checkpoint in another would skip writes (a finished full copy has no
      // oplog position) or tail over an unfinished copy.
      throw new CheckpointError(
        `Checkpoint "${name}" was written in mode "${checkpoint.mode}", not "${mode}"`,
        false,
        {
          hint: `Restart with mode "${checkpoint.mode}", or choose a new checkpoint name to start over in mode "${mode}"`
        }
      );
    }
    const storedMethod = checkpoint.fetchMethod ?? 'oplog';
    if (storedMethod !== fetchMethod) {
      throw new CheckpointError(
        `Checkpoint "${name}" was written with fetchMethod "${storedMethod}", not "${fetchMethod}"`,
        false,
        {
          hint: `Restart with fetchMethod "${storedMethod}", or choose a new checkpoint name to start over`
        }
      );
    }
    this.#checkBinding(checkpoint);
    this.phase = checkpoint.phase;
    this.copiedAt = checkpoint.copiedAt;
    if (checkpoint.uniqueIndexes !== undefined) this.uniqueIndexes = checkpoint.uniqueIndexes;
    this.fullBeginTs = checkpoint.fullBeginTs;
    this.copyEndTs = checkpoint.copyEndTs;
    if (checkpoint.copy !== undefined) {
      // Kept inline by an older release, or by a store without copy records: the next save of a
      // store with records writes them all.
      if (checkpoint.copyCollections === undefined && isCopyStateStore(store)) {
        this.#copy.plan(checkpoint.copy);
      } else this.#copy.restore(checkpoint.copy);
    }
    this.#applied = checkpoint.lastApplied;
    this.#saved = checkpoint.lastApplied;
    this.#appliedToken = checkpoint.resumeToken;
    return checkpoint;
  }

  /**
   * Refuses a checkpoint written for another source or with another filter: resuming it would
   * apply positions of one deployment to another, or skip what the new filter adds. A checkpoint
   * from before these were recorded is taken as it is (the next save records them).
   */
  #checkBinding(checkpoint: Checkpoint): void {
    const { name, binding } = this.#options;
    const reset = `Resume with the job's original settings, or start over: \`mongo-replicate checkpoint reset --checkpoint-name ${name}\` (or the store's delete("${name}")), or a new checkpoint name`;
    if (
      checkpoint.sourceId !== undefined &&
      binding.sourceId !== undefined &&
      checkpoint.sourceId !== binding.sourceId
    ) {
      throw new CheckpointError(
        `Checkpoint "${name}" was written for another source deployment (${checkpoint.sourceId}); this source is ${binding.sourceId}`,
        false,
        { hint: reset }
      );
    }
    if (
      checkpoint.filterFingerprint !== undefined &&
      checkpoint.filterFingerprint !== binding.filterFingerprint
    ) {
      throw new CheckpointError(
        `Checkpoint "${name}" was written with another filter (include, exclude, rename or includeSystem changed): resuming would skip what the new filter adds`,
        false,
        { hint: reset }
      );
    }
    const stored = checkpoint.sourceShards?.join(',');
    const reading = binding.sourceShards?.join(',');
    if (stored !== undefined && stored !== reading) {
      throw new CheckpointError(
        `Checkpoint "${name}" was written by a shard worker reading ${stored}; this replicator reads ${reading ?? 'every shard'}: the other shards' entries since their own positions would be lost`,
        false,
        { hint: reset }
      );
    }
  }

  /** The copy's collections and ranges (O(collections)), or undefined before its plan. */
  get copyState(): readonly CopiedCollection[] | undefined {
    return this.#copy.planned ? this.#copy.collections : undefined;
  }

  /** How many collections the copy covers. */
  get copiedCollections(): number {
    return this.#copy.size;
  }

  /** A new copy's collections and ranges: saved at once, replacing any stored before. */
  planCopy(collections: readonly CopiedCollection[]): Promise<void> {
    this.#copy.plan(collections);
    return this.save();
  }

  /** The copy finished range `index` of `sourceNs`: saved with the next save, at most `intervalMs` away. */
  copyRangeDone(sourceNs: string, index: number): void {
    this.#copy.markDone(sourceNs, index);
    this.saveIfDue();
  }

  /** Mode full: the whole copy is done; records it, so a rerun says so instead of copying nothing. */
  markCopied(): Promise<void> {
    this.copiedAt = new Date();
    return this.save();
  }

  /** What a rerun of a finished full copy tells. */
  copiedNotice(): string {
    const { name } = this.#options;
    return `The full copy of checkpoint "${name}" finished on ${this.copiedAt?.toISOString() ?? '?'}: nothing to do. To copy again, reset the checkpoint (mongo-replicate checkpoint reset --checkpoint-name ${name}) or choose a new name`;
  }

  /** Sets where applying starts (nothing applied yet from this position on). */
  startAt(optime: Timestamp): void {
    this.#applied = optime;
  }

  /**
   * A batch is applied everywhere: record its position (and, with change streams, its token: a
   * batch without one must not leave an older token paired with a newer optime).
   * @returns true when this ends the catch-up (the phase is now `incr`)
   */
  recordApplied(optime: Timestamp, resumeToken: Document | undefined): boolean {
    this.#applied = optime;
    if (this.#options.fetchMethod === 'changeStream') this.#appliedToken = resumeToken;
    return this.#endCatchUpAt(optime);
  }

  /** The copy ended at `copyEndTs` (mode `all`): catch up from the applied position. */
  beginCatchUp(copyEndTs: Timestamp): void {
    this.copyEndTs = copyEndTs;
    this.phase = 'catchup';
  }

  /** Leaves `catchup` for `incr` once the applied position reaches `copyEndTs`. */
  endCatchUpIfReached(): boolean {
    return this.#applied !== undefined && this.#endCatchUpAt(this.#applied);
  }

  #endCatchUpAt(optime: Timestamp): boolean {
    if (this.phase !== 'catchup' || this.copyEndTs === undefined) return false;
    if (optime.lessThan(this.copyEndTs)) return false;
    this.phase = 'incr';
    return true;
  }

  /**
   * The checkpoint the current state describes, naming `optime` as applied; with `records`, the
   * copy's state is counted (`copyCollections`), not included.
   */
  compose(optime: Timestamp | undefined, records = false): Checkpoint {
    const { name, mode, fetchMethod } = this.#options;
    return {
      name,
      version: 1,
      mode,
      phase: this.phase,
      ...(fetchMethod === 'oplog' ? {} : { fetchMethod }),
      ...(optime ? { lastApplied: optime } : {}),
      ...(optime && this.#appliedToken ? { resumeToken: this.#appliedToken } : {}),
      ...(this.fullBeginTs ? { fullBeginTs: this.fullBeginTs } : {}),
      ...(this.copyEndTs ? { copyEndTs: this.copyEndTs } : {}),
      ...(!this.#copy.planned
        ? {}
        : records
          ? { copyCollections: this.#copy.size }
          : { copy: this.#copy.collections }),
      ...(this.#options.binding.sourceId === undefined
        ? {}
        : { sourceId: this.#options.binding.sourceId }),
      filterFingerprint: this.#options.binding.filterFingerprint,
      ...(this.#options.binding.sourceShards === undefined
        ? {}
        : { sourceShards: this.#options.binding.sourceShards }),
      ...(this.copiedAt ? { copiedAt: this.copiedAt } : {}),
      ...(this.uniqueIndexes.relaxedIndexes.length + this.uniqueIndexes.orderedNamespaces.length > 0
        ? { uniqueIndexes: this.uniqueIndexes }
        : {}),
      updatedAt: new Date()
    };
  }

  /** Saves the current state now (after every earlier save); resolves once it is durable. */
  save(): Promise<void> {
    return this.#enqueue(this.#applied);
  }

  /** Saves the applied position if `intervalMs` has passed since the last save; never waits. */
  saveIfDue(): void {
    if (Date.now() - this.#lastSaveAt < this.#options.intervalMs) return;
    this.#enqueue(this.#applied).catch(error => this.#options.onFailure?.(this.#toError(error)));
  }

  /**
   * Waits for pending saves, then saves once more if the applied position or the copy's state
   * moved since.
   */
  async flush(): Promise<void> {
    await this.#saving;
    const applied = this.#applied;
    const moved =
      applied !== undefined && !(this.#saved !== undefined && applied.equals(this.#saved));
    if (moved || this.#copy.dirty) await this.#enqueue(applied);
  }

  #enqueue(optime: Timestamp | undefined): Promise<void> {
    this.#lastSaveAt = Date.now();
    const { store } = this.#options;
    const records = isCopyStateStore(store);
    // Taken now, in call order: a later save's changes are never written before these.
    const changes = records ? this.#copy.takeChanges() : undefined;
    const checkpoint = this.compose(optime, records);
    const next = this.#saving.then(async () => {
      const lease = this.#options.lease?.();
      const options = lease === undefined ? {} : { lease };
      if (changes !== undefined) await this.#saveCopy(changes, options);
      await this.#call('Saving', () => store.save(checkpoint, options));
      this.#saved = optime;
      if (optime === undefined) return;
      this.#options.onSaved?.({ name: checkpoint.name, optime, savedAt: checkpoint.updatedAt });
      await this.#options.afterSave?.(optime);
    });
    // The chain goes on after a failure: the caller of this save sees it.
    this.#saving = next.catch(() => undefined);
    return next;
  }

  /** The changed collections' records go first: the checkpoint then never counts one missing. */
  async #saveCopy(changes: CopyChanges, options: { lease?: LeaseToken }): Promise<void> {
    const { store, name } = this.#options;
    if (!isCopyStateStore(store)) return;
    if (changes.collections.length === 0 && !changes.replace) return;
    try {
      await this.#call('Saving', () =>
        store.saveCopyState(name, changes.collections, { ...options, replace: changes.replace })
      );
    } catch (error) {
      this.#copy.unsaved(changes);
      throw error;
    }
  }

  async #call<T>(action: 'Loading' | 'Saving', fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.#toError(error, action);
    }
  }

  #toError(error: unknown, action: 'Loading' | 'Saving' = 'Saving'): ReplicationError {
    return sideError('checkpoint', error, {
      action: `${action} checkpoint "${this.#options.name}"`,
      hint: 'The checkpoint store must be readable and writable; replication resumes from the last saved checkpoint'
    });
  }
}
