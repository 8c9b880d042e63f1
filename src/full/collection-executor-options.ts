/**
 * Options and events of the {@link CollectionExecutor}: what hosts fill in, the frozen defaults,
 * and the validation that runs in the constructor (before any I/O).
 */
import { type MongoClient, type WriteConcern, type WriteConcernSettings } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type ProgressEvent } from '../events.js';
import { type RetryOptions } from '../lifecycle/retry.js';
import { type StageEvents, type StageOptions } from '../lifecycle/stage.js';
import { type IdRange } from '../split/document-splitter.js';

/**
 * What to do with a source document whose `_id` is already on the target: `fail` stops the copy
 * with a {@link TargetWriteError}; `replace` overwrites the target's document.
 * @public
 */
export type DuplicatePolicy = 'fail' | 'replace';

/**
 * One range to copy and where to.
 * @public
 */
export interface CopyTask {
  /** The source range (its `namespace` is the source collection). */
  readonly range: IdRange;
  /** The target `db.collection` (the source namespace after renames). */
  readonly targetNs: string;
  /** The source collection's UUID: a read follows the collection if it is renamed. */
  readonly sourceUuid?: unknown;
  /**
   * True when an earlier run started this range and did not finish it: its duplicates are that
   * run's own writes and are replaced whatever the policy.
   */
  readonly resumed: boolean;
}

/**
 * Payload of the `progress` event: one target namespace's copy so far.
 * @public
 */
export interface CopyProgressEvent extends ProgressEvent {
  /** The source namespace. */
  readonly sourceNs: string;
  /** The target namespace. */
  readonly namespace: string;
  /** Documents copied into it (same as `count`). */
  readonly documents: number;
  /** Documents that replaced one already on the target. */
  readonly replaced: number;
  /** The splitter's estimate of its documents (sum over its ranges). */
  readonly estimatedDocuments: number;
  /** Ranges fully copied. */
  readonly rangesDone: number;
  /** Ranges of this namespace in this run. */
  readonly rangesTotal: number;
  /** Estimated milliseconds until this namespace is copied, at the current rate. */
  readonly etaMs: number | undefined;
  /** Every namespace of this run together. */
  readonly overall: CopyTotals;
}

/**
 * The whole copy's counts, in each {@link CopyProgressEvent}.
 * @public
 */
export interface CopyTotals {
  /** Documents copied so far. */
  readonly documents: number;
  /** The splitter's estimate of all documents to copy. */
  readonly estimatedDocuments: number;
  /** Estimated milliseconds until everything is copied, at the average rate so far. */
  readonly etaMs: number | undefined;
}

/**
 * Payload of the `range` event: every document of one range is on the target.
 * @public
 */
export interface RangeCopiedEvent {
  /** The task that finished. */
  readonly task: CopyTask;
  /** Documents it copied. */
  readonly documents: number;
  /** BSON bytes it copied. */
  readonly bytes: number;
  /** True when this was the namespace's last unfinished range in this run. */
  readonly namespaceDone: boolean;
}

/**
 * Events of {@link CollectionExecutor}.
 * @public
 */
export interface CollectionExecutorEvents extends StageEvents {
  /** After each written chunk, and when a range completes. */
  progress: (event: CopyProgressEvent) => void;
  /** A range is fully on the target; a checkpoint may record it as done. */
  range: (event: RangeCopiedEvent) => void;
}

/**
 * Options for {@link CollectionExecutor}.
 * @public
 */
export interface CollectionExecutorOptions extends StageOptions {
  /** The source, connected by the host. */
  source: MongoClient;
  /** The target, connected by the host. */
  target: MongoClient;
  /** The ranges to copy, taken in this order. */
  tasks: readonly CopyTask[];
  /**
   * Ranges read at once (one cursor each).
   * @defaultValue 4
   */
  readers?: number;
  /**
   * Chunks written at once (one `insertMany` each).
   * @defaultValue 8
   */
  writers?: number;
  /**
   * Documents per `find`/`getMore` batch.
   * @defaultValue 1000
   */
  readBatchSize?: number;
  /**
   * Most documents per chunk (one `insertMany`).
   * @defaultValue 1000
   */
  chunkDocuments?: number;
  /**
   * A chunk is cut once it holds this many BSON bytes.
   * @defaultValue 8 MiB
   */
  chunkBytes?: number;
  /**
   * Most chunks waiting between readers and writers.
   * @defaultValue 16
   */
  bufferMaxChunks?: number;
  /**
   * Most BSON bytes waiting between readers and writers (one larger chunk still passes).
   * @defaultValue 64 MiB
   */
  bufferMaxBytes?: number;
  /**
   * What to do with an `_id` already on the target (outside resumed ranges).
   * @defaultValue `'fail'`
   */
  onDuplicate?: DuplicatePolicy;
  /**
   * Write concern of the inserts.
   * @defaultValue the target client's
   */
  writeConcern?: WriteConcern | WriteConcernSettings;
  /**
   * Backoff for transient failures (a reader resumes after the last document it read).
   * @defaultValue {@link retryDefaults}
   */
  retry?: Omit<RetryOptions, 'operation' | 'signal' | 'onRetry'>;
}

/**
 * The defaults {@link CollectionExecutor} applies to omitted options.
 * @public
 */
export const collectionExecutorDefaults = Object.freeze({
  readers: 4,
  writers: 8,
  readBatchSize: 1000,
  chunkDocuments: 1000,
  chunkBytes: 8 * 1024 * 1024,
  bufferMaxChunks: 16,
  bufferMaxBytes: 64 * 1024 * 1024,
  onDuplicate: 'fail' as DuplicatePolicy
});

/**
 * {@link CollectionExecutorOptions} with every default applied and checked.
 * @public
 */
export interface ResolvedCollectionExecutorOptions extends CollectionExecutorOptions {
  /** See {@link CollectionExecutorOptions.readers}. */
  readonly readers: number;
  /** See {@link CollectionExecutorOptions.writers}. */
  readonly writers: number;
  /** See {@link CollectionExecutorOptions.readBatchSize}. */
  readonly readBatchSize: number;
  /** See {@link CollectionExecutorOptions.chunkDocuments}. */
  readonly chunkDocuments: number;
  /** See {@link CollectionExecutorOptions.chunkBytes}. */
  readonly chunkBytes: number;
  /** See {@link CollectionExecutorOptions.bufferMaxChunks}. */
  readonly bufferMaxChunks: number;
  /** See {@link CollectionExecutorOptions.bufferMaxBytes}. */
  readonly bufferMaxBytes: number;
  /** See {@link CollectionExecutorOptions.onDuplicate}. */
  readonly onDuplicate: DuplicatePolicy;
}

function positiveInteger(field: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidConfigError(field, `must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Applies {@link collectionExecutorDefaults} and validates every option; no I/O.
 * @throws {@link InvalidConfigError} naming the first invalid option
 * @internal
 */
export function resolveCollectionExecutorOptions(
  options: CollectionExecutorOptions
): Readonly<ResolvedCollectionExecutorOptions> {
  for (const side of ['source', 'target'] as const) {
    if (typeof (options[side] as Partial<MongoClient> | undefined)?.db !== 'function') {
      throw new InvalidConfigError(side, 'must be a connected MongoClient');
    }
  }
  if (!Array.isArray(options.tasks)) throw new InvalidConfigError('tasks', 'must be an array');
  options.tasks.forEach((task, i) => {
    if (typeof task.targetNs !== 'string' || !/^[^.$]+\.[^]+$/.test(task.targetNs)) {
      throw new InvalidConfigError(`tasks[${i}].targetNs`, 'must be a db.collection name');
    }
    if (typeof task.range?.namespace !== 'string') {
      throw new InvalidConfigError(`tasks[${i}].range`, 'must be an IdRange');
    }
  });
  const d = collectionExecutorDefaults;
  const onDuplicate = options.onDuplicate ?? d.onDuplicate;
  if (onDuplicate !== 'fail' && onDuplicate !== 'replace') {
    throw new InvalidConfigError(
      'onDuplicate',
      `must be "fail" or "replace", got ${JSON.stringify(onDuplicate)}`
    );
  }
  return Object.freeze({
    ...options,
    readers: positiveInteger('readers', options.readers ?? d.readers, 256),
    writers: positiveInteger('writers', options.writers ?? d.writers, 256),
    readBatchSize: positiveInteger('readBatchSize', options.readBatchSize ?? d.readBatchSize),
    chunkDocuments: positiveInteger('chunkDocuments', options.chunkDocuments ?? d.chunkDocuments),
    chunkBytes: positiveInteger('chunkBytes', options.chunkBytes ?? d.chunkBytes),
    bufferMaxChunks: positiveInteger(
      'bufferMaxChunks',
      options.bufferMaxChunks ?? d.bufferMaxChunks
    ),
    bufferMaxBytes: positiveInteger('bufferMaxBytes', options.bufferMaxBytes ?? d.bufferMaxBytes),
    onDuplicate
  });
}
