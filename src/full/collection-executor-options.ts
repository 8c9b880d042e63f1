/**
 * Options and events of the {@link CollectionExecutor}: what hosts fill in, the frozen defaults,
 * and the validation that runs in the constructor (before any I/O).
 */
import { type MongoClient, type WriteConcern, type WriteConcernSettings } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type ProgressEvent } from '../events.js';
import { readRetryOptions, type StageRetryOptions } from '../lifecycle/retry.js';
import { type StageEvents, type StageOptions } from '../lifecycle/stage.js';
import {
  type OptionReader,
  readOptions,
  readThrottle,
  readWriteConcern
} from '../options/option-reader.js';
import { type IdRange } from '../split/document-splitter.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';

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
   * Inserts skip the target's document validation, so every source document is copied, also
   * one the collection's validator rejects. Needs the `bypassDocumentValidation` privilege.
   * @defaultValue true
   */
  bypassDocumentValidation?: boolean;
  /**
   * Runs synchronously right before every write to the target. When it throws, the write is not
   * made and the executor fails with that error: the Replicator passes its lease check here, so a
   * replicator that lost its checkpoint's lease writes nothing more.
   * @defaultValue none
   */
  beforeWrite?: () => void;
  /**
   * Backoff for transient failures (a reader resumes after the last document it read).
   * @defaultValue {@link retryDefaults}
   */
  retry?: StageRetryOptions;
  /**
   * The rate limit and pause gate every insert passes (shared with the applier, when there is
   * one): chunks are cut to fit the limit and wait for it, and for a pause to end.
   * @defaultValue none: inserts are neither limited nor pausable
   */
  throttle?: WriteThrottle;
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
  onDuplicate: 'fail' as DuplicatePolicy,
  bypassDocumentValidation: true
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
  /** See {@link CollectionExecutorOptions.bypassDocumentValidation}. */
  readonly bypassDocumentValidation: boolean;
  /** See {@link CollectionExecutorOptions.beforeWrite}. */
  readonly beforeWrite: () => void;
}

const DUPLICATE_POLICIES: readonly DuplicatePolicy[] = ['fail', 'replace'];

/**
 * Reads `onDuplicate`, the policy for a copied `_id` the target already holds.
 * @internal
 */
export function readOnDuplicate(reader: OptionReader): DuplicatePolicy {
  return reader.oneOf('onDuplicate', DUPLICATE_POLICIES, collectionExecutorDefaults.onDuplicate);
}

/**
 * Reads the executor's tunable options: what the Replicator's `full.executor` slice holds.
 * @throws {@link InvalidConfigError} naming the field
 * @internal
 */
export function readExecutorSettings(reader: OptionReader) {
  const d = collectionExecutorDefaults;
  const retry = reader.has('retry') ? readRetryOptions(reader.object('retry')) : undefined;
  const writeConcern = readWriteConcern(reader);
  return {
    readers: reader.integer('readers', d.readers, { max: 256 }),
    writers: reader.integer('writers', d.writers, { max: 256 }),
    readBatchSize: reader.integer('readBatchSize', d.readBatchSize),
    chunkDocuments: reader.integer('chunkDocuments', d.chunkDocuments),
    chunkBytes: reader.integer('chunkBytes', d.chunkBytes),
    bufferMaxChunks: reader.integer('bufferMaxChunks', d.bufferMaxChunks),
    bufferMaxBytes: reader.integer('bufferMaxBytes', d.bufferMaxBytes),
    bypassDocumentValidation: reader.boolean(
      'bypassDocumentValidation',
      d.bypassDocumentValidation
    ),
    ...(retry === undefined ? {} : { retry }),
    ...(writeConcern === undefined ? {} : { writeConcern })
  };
}

/**
 * Applies {@link collectionExecutorDefaults} and validates every option; no I/O.
 * @throws {@link InvalidConfigError} naming the first invalid option
 * @internal
 */
export function resolveCollectionExecutorOptions(
  options: CollectionExecutorOptions
): Readonly<ResolvedCollectionExecutorOptions> {
  return readOptions(options, reader => {
    const signal = reader.signal();
    const logger = reader.logger();
    const source = reader.client('source');
    const target = reader.client('target');
    const tasks = reader.custom('tasks', (value, field) => {
      if (!Array.isArray(value)) throw new InvalidConfigError(field, 'must be an array');
      (value as Partial<CopyTask>[]).forEach((task, i) => {
        if (typeof task.targetNs !== 'string' || !/^[^.$]+\.[^]+$/.test(task.targetNs)) {
          throw new InvalidConfigError(`${field}[${i}].targetNs`, 'must be a db.collection name');
        }
        if (typeof task.range?.namespace !== 'string') {
          throw new InvalidConfigError(`${field}[${i}].range`, 'must be an IdRange');
        }
      });
      return value as CopyTask[];
    });
    const throttle = readThrottle(reader);
    return Object.freeze({
      ...(signal === undefined ? {} : { signal }),
      ...(logger === undefined ? {} : { logger }),
      ...(throttle === undefined ? {} : { throttle }),
      source,
      target,
      tasks,
      onDuplicate: readOnDuplicate(reader),
      beforeWrite: reader.func('beforeWrite', () => {}),
      ...readExecutorSettings(reader)
    });
  });
}
