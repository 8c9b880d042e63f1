/**
 * FullCopy: the full-sync procedure the Replicator runs in modes `full` and `all`.
 *
 * ```
 * first run: list the source catalog → check every target (nothing written if one fails)
 *            → create collections (+ indexes if 'before') → split every collection into ranges
 *            → record the split (checkpoint) → copy the ranges → create the empty collections
 *            left to their first insert → indexes if 'after' → views
 * resume:    same catalog steps with existing targets kept (they hold this copy's data)
 *            → copy only the ranges the checkpoint does not mark done → indexes → views
 * ```
 *
 * The split is recorded before any document is copied, so a resumed copy reads exactly the same
 * ranges; each range is marked done only once all its documents are on the target. Every step
 * per collection runs for several collections at once, and none costs more the more collections
 * are done, so a source of many small collections copies in time linear in their number.
 */
import { type MongoClient } from 'mongodb';

import { CatalogCopier, type OnExistingTarget, type SourceCollection } from '../catalog/index.js';
import { readShardedCollections, shardTargetCollection } from '../catalog/sharding-spec.js';
import { isUniqueSecondary, type UniqueIndexRef } from '../catalog/unique-indexes.js';
import { type CopiedCollection, type StoredRange } from '../checkpoint/checkpoint.js';
import { type RetryEvent } from '../events.js';
import { forEachConcurrently } from '../lifecycle/concurrently.js';
import { type Logger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import {
  DocumentSplitter,
  type DocumentSplitterOptions,
  type IdRange
} from '../split/document-splitter.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import {
  CollectionExecutor,
  type CollectionExecutorOptions,
  type CopyProgressEvent,
  type CopyTask,
  type DuplicatePolicy
} from './collection-executor.js';

/**
 * Collections whose catalog steps (create, split) run at once: each is a round trip or two, and a
 * source of thousands of small collections would otherwise wait on them one after the other.
 */
const CATALOG_CONCURRENCY = 8;
/** Collections whose indexes are built at once (mongorestore's default parallel collections). */
const INDEX_BUILD_CONCURRENCY = 4;

/**
 * When indexes are built on the target: before the data (each insert maintains them), after it
 * (one build per index, usually faster), or not at all.
 * @public
 */
export type IndexTiming = 'before' | 'after' | 'none';

/**
 * What {@link FullCopy} needs.
 * @internal
 */
export interface FullCopyOptions {
  readonly source: MongoClient;
  readonly target: MongoClient;
  readonly filter: NamespaceFilter;
  readonly indexes: IndexTiming;
  readonly onExistingTarget: OnExistingTarget;
  readonly onDuplicate: DuplicatePolicy;
  readonly splitter: Omit<DocumentSplitterOptions, 'source' | 'logger'>;
  readonly executor: Omit<
    CollectionExecutorOptions,
    'source' | 'target' | 'tasks' | 'onDuplicate' | 'beforeWrite' | 'signal' | 'logger' | 'throttle'
  >;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** The stored state of an interrupted copy; undefined on the first run. */
  readonly resume: readonly CopiedCollection[] | undefined;
  /** Persists a first run's split, before any document is copied. */
  readonly savePlan: (state: readonly CopiedCollection[]) => Promise<void>;
  /** Range `index` of `sourceNs` is on the target (persisted soon, in order). */
  readonly rangeDone: (sourceNs: string, index: number) => void;
  /** Persists every range reported done; the copy ends only after this. */
  readonly flushState: () => Promise<void>;
  readonly onProgress: (event: CopyProgressEvent) => void;
  readonly onRetry: (event: RetryEvent) => void;
  /** Runs right before every write to the target; throwing stops the copy (the lease check). */
  readonly beforeWrite: () => void;
  /**
   * The rate limit and pause gate: inserts follow the limit; creating collections, building
   * indexes and views wait while writes are paused.
   */
  readonly throttle?: WriteThrottle | undefined;
  /**
   * `'source'`: source and target are sharded clusters, and each copied collection sharded on the
   * source is sharded on the target on the same key before any document is copied into it.
   */
  readonly targetSharding?: 'none' | 'source';
}

/**
 * Runs one full copy; `stop()` ends it early at a safe point (finished ranges stay recorded).
 * @internal
 */
export class FullCopy {
  #executor: CollectionExecutor | undefined;
  #stopped = false;
  #state: readonly CopiedCollection[] = [];
  #relaxed: readonly UniqueIndexRef[] = [];

  constructor(private readonly options: FullCopyOptions) {}

  /**
   * The unique secondary indexes of the copied collections, by target namespace: the copy builds
   * them non-unique (they are enforced once the target is consistent). Known once `run()` has
   * read the source catalog.
   */
  get relaxedUniqueIndexes(): readonly UniqueIndexRef[] {
    return this.#relaxed;
  }

  /** Copies everything; resolves `'stopped'` when `stop()` ended it first. */
  async run(): Promise<'done' | 'stopped'> {
    const { options } = this;
    const resuming = options.resume !== undefined;
    const copier = new CatalogCopier({
      source: options.source,
      target: options.target,
      filter: options.filter,
      // A resumed copy finds its own partial data in the targets: keep it.
      onExistingTarget: resuming ? 'append' : options.onExistingTarget,
      // Enforced once the target is consistent: after the catch-up, or at the end of a copy.
      relaxUniqueIndexes: true,
      beforeWrite: options.beforeWrite,
      logger: options.logger
    });
    const catalog = await copier.listSource();
    if (!resuming) await copier.checkTargets(catalog);
    const collections = catalog.collections;
    this.#relaxed = collections.flatMap(collection =>
      collection.indexes
        .filter(isUniqueSecondary)
        .map(spec => ({ namespace: collection.targetNs, name: String(spec.name) }))
    );
    const deferred = await copier.prepareCollections(collections, {
      concurrency: CATALOG_CONCURRENCY,
      // Created by their first insert: a round trip per collection less.
      deferPlainCreates: true,
      each: prepare => {
        options.signal.throwIfAborted();
        return this.#catalogWrite(prepare);
      }
    });
    if (options.targetSharding === 'source') await this.#shardTargets(collections);
    if (options.indexes === 'before') await this.#copyIndexes(copier, collections);
    this.#state = options.resume ?? (await this.#split(collections));
    if (!resuming) await options.savePlan(this.#state);
    if (this.#stopped) return 'stopped';
    if ((await this.#copyRanges(resuming)) === 'stopped') return 'stopped';
    const copied = this.#executor?.copied;
    const empty = deferred.filter(ns => (copied?.get(ns)?.documents ?? 0) === 0);
    await this.#catalogWrite(() => copier.ensureCollections(empty, CATALOG_CONCURRENCY));
    if (options.indexes === 'after') await this.#copyIndexes(copier, collections);
    await this.#catalogWrite(() => copier.createViews(catalog.views));
    return 'done';
  }

  /** Shards on the target the collections sharded on the source, on the same key. */
  async #shardTargets(collections: readonly SourceCollection[]): Promise<void> {
    const { source, target, beforeWrite, signal } = this.options;
    const specs = await readShardedCollections(source);
    for (const collection of collections) {
      const spec = specs.get(collection.sourceNs);
      if (spec === undefined) continue;
      signal.throwIfAborted();
      await this.#catalogWrite(() =>
        shardTargetCollection(target, collection.targetNs, spec, beforeWrite)
      );
    }
  }

  /** Builds the indexes of `collections`, a few collections at a time. */
  #copyIndexes(copier: CatalogCopier, collections: readonly SourceCollection[]): Promise<void> {
    return forEachConcurrently(collections, INDEX_BUILD_CONCURRENCY, collection => {
      this.options.signal.throwIfAborted();
      return this.#catalogWrite(() => copier.copyIndexes(collection));
    });
  }

  /** A catalog change waits while writes are paused (it does not count against the limit). */
  #catalogWrite<T>(write: () => Promise<T>): Promise<T> {
    const { throttle, signal } = this.options;
    return throttle === undefined ? write() : throttle.write(0, 0, signal, write);
  }

  /** Graceful: readers stop, queued documents are written, finished ranges are recorded. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#executor?.stop();
  }

  async #split(collections: readonly SourceCollection[]): Promise<CopiedCollection[]> {
    const splitter = new DocumentSplitter({
      ...this.options.splitter,
      source: this.options.source,
      logger: this.options.logger
    });
    this.options.signal.throwIfAborted();
    const split = await splitter.splitMany(
      collections.map(collection => collection.sourceNs),
      CATALOG_CONCURRENCY
    );
    return collections.map((collection, index) => {
      const ranges = split[index]!;
      return {
        sourceNs: collection.sourceNs,
        targetNs: collection.targetNs,
        ...(collection.uuid === undefined ? {} : { uuid: collection.uuid }),
        ranges: ranges.map(range => ({
          ...(range.min === undefined ? {} : { min: range.min }),
          ...(range.max === undefined ? {} : { max: range.max }),
          estimatedDocuments: range.estimatedDocuments,
          done: false
        }))
      };
    });
  }

  async #copyRanges(resuming: boolean): Promise<'done' | 'stopped'> {
    const tasks: CopyTask[] = [];
    for (const collection of this.#state) {
      collection.ranges.forEach((stored, index) => {
        if (stored.done) return;
        tasks.push({
          range: toIdRange(collection, stored, index),
          targetNs: collection.targetNs,
          ...(collection.uuid === undefined ? {} : { sourceUuid: collection.uuid }),
          resumed: resuming
        });
      });
    }
    if (tasks.length === 0) return 'done';
    const executor = new CollectionExecutor({
      ...this.options.executor,
      source: this.options.source,
      target: this.options.target,
      tasks,
      onDuplicate: this.options.onDuplicate,
      beforeWrite: this.options.beforeWrite,
      ...(this.options.throttle === undefined ? {} : { throttle: this.options.throttle }),
      signal: this.options.signal,
      logger: this.options.logger
    });
    this.#executor = executor;
    executor.on('range', event => {
      const { namespace, index } = event.task.range;
      this.options.rangeDone(namespace, index);
    });
    executor.on('progress', event => this.options.onProgress(event));
    executor.on('retry', event => this.options.onRetry(event));
    if (this.#stopped) return 'stopped';
    await executor.start();
    await executor.done;
    await this.options.flushState();
    // An aborted executor ends as "stopped" without error; its unfinished ranges are not done.
    this.options.signal.throwIfAborted();
    return this.#stopped ? 'stopped' : 'done';
  }
}

function toIdRange(collection: CopiedCollection, stored: StoredRange, index: number): IdRange {
  return {
    namespace: collection.sourceNs,
    index,
    count: collection.ranges.length,
    ...(stored.min === undefined ? {} : { min: stored.min }),
    ...(stored.max === undefined ? {} : { max: stored.max }),
    estimatedDocuments: Number(stored.estimatedDocuments)
  };
}
