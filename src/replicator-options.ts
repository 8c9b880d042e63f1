/**
 * Options of {@link Replicator}: what to replicate, from where to where, and each stage's slice.
 * Everything is validated before any connection is made.
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { type HashedApplierPoolOptions } from './apply/hashed-applier-pool.js';
import { type ReplBatcherOptions, type TransactionMode } from './batch/repl-batcher.js';
import { type OnExistingTarget } from './catalog/index.js';
import { type CheckpointStore } from './checkpoint/checkpoint-store.js';
import { InvalidConfigError } from './errors.js';
import { type OplogFetcherOptions } from './fetch/oplog-fetcher.js';
import {
  type CollectionExecutorOptions,
  type DuplicatePolicy
} from './full/collection-executor.js';
import { resolveCollectionExecutorOptions } from './full/collection-executor-options.js';
import { type IndexTiming } from './full/full-copy.js';
import { isClientLike } from './lifecycle/option-checks.js';
import { type StageOptions } from './lifecycle/stage.js';
import { type NamespaceFilterOptions } from './namespace/namespace-filter.js';
import { type DocumentSplitterOptions } from './split/document-splitter.js';
import { resolveDocumentSplitterOptions } from './split/document-splitter-options.js';

/**
 * How the {@link Replicator} reads the source: tailing the oplog, or a change stream.
 * @public
 */
export type FetchMethod = 'oplog' | 'changeStream';

/**
 * Where checkpoints go and how often.
 * @public
 */
export interface ReplicatorCheckpointOptions {
  /** The checkpoint's name; restarting with the same name resumes where it stopped. */
  name: string;
  /**
   * Where checkpoints are stored.
   * @defaultValue a {@link MongoCheckpointStore} in the target (`mongo_replicate.checkpoints`)
   */
  store?: CheckpointStore;
  /**
   * Write a checkpoint at most this often while running (and always on stop).
   * @defaultValue 1000
   */
  intervalMs?: number;
}

/**
 * Options of the full copy (modes `full` and `all`).
 * @public
 */
export interface ReplicatorFullOptions {
  /**
   * When indexes are built on the target.
   * @defaultValue 'after'
   */
  indexes?: IndexTiming;
  /**
   * A target collection that already holds documents: `'fail'` stops before anything is written,
   * `'drop'` drops it first, `'append'` copies into it.
   * @defaultValue 'fail'
   */
  onExistingTarget?: OnExistingTarget;
  /**
   * A copied document whose `_id` the target already holds (with `onExistingTarget: 'append'`).
   * @defaultValue 'fail'
   */
  onDuplicate?: DuplicatePolicy;
  /** Options of the {@link DocumentSplitter}. */
  splitter?: Omit<DocumentSplitterOptions, 'source' | 'logger'>;
  /** Options of the {@link CollectionExecutor} (readers, writers, chunk and buffer sizes). */
  executor?: Omit<
    CollectionExecutorOptions,
    'source' | 'target' | 'tasks' | 'onDuplicate' | 'signal' | 'logger'
  >;
  /**
   * Mode `all`: the directory where oplog entries fetched during the copy are spooled (one
   * subdirectory per checkpoint name). It must survive a restart for the copy to resume.
   * @defaultValue `.mongo-replicate-spool` in the working directory
   */
  spoolDir?: string;
}

/**
 * Options of {@link Replicator}.
 * @public
 */
export interface ReplicatorOptions extends StageOptions {
  /** The source replica set: a connection string, or a `MongoClient` the host connects and closes. */
  source: string | MongoClient;
  /** The target deployment: a connection string, or a `MongoClient` the host connects and closes. */
  target: string | MongoClient;
  /**
   * What to do: `'full'` copies every selected collection once and ends; `'incr'` applies the
   * source oplog from the checkpoint or `startAt`; `'all'` copies, then applies every write made
   * since the copy began and keeps the target current.
   * @defaultValue 'incr'
   */
  mode?: 'full' | 'incr' | 'all';
  /**
   * How to read the source: `'oplog'` tails `local.oplog.rs` (needs read access to the `local`
   * database); `'changeStream'` reads a cluster-wide change stream (MongoDB 6.0+, works where the
   * oplog cannot be read, such as managed services and restricted users). See
   * `docs/fetch-methods.md` for the trade-offs.
   * @defaultValue 'oplog'
   */
  fetchMethod?: FetchMethod;
  /**
   * How source transactions reach the target: `'flatten'` spreads their operations over the
   * applier lanes like any others (fastest; a reader of the target may see part of a
   * transaction for a moment); `'preserve'` applies each source transaction as one target
   * transaction, after every earlier write (the target must support transactions).
   * @defaultValue 'flatten'
   */
  transactions?: TransactionMode;
  /** Which namespaces to replicate and how to rename them. @defaultValue everything but system namespaces */
  filter?: NamespaceFilterOptions;
  /**
   * Where to start when no checkpoint exists: the optime of the last entry already on the target,
   * or `'latest'` (only writes made from now on).
   * @defaultValue 'latest'
   */
  startAt?: Timestamp | 'latest';
  /** The checkpoint. */
  checkpoint: ReplicatorCheckpointOptions;
  /**
   * Options of the fetcher stage, the {@link OplogFetcher} or the {@link ChangeStreamFetcher}
   * (without `source` and `start`).
   */
  fetcher?: Omit<OplogFetcherOptions, 'source' | 'start' | 'signal' | 'logger'>;
  /** Options of the {@link ReplBatcher} stage (without `input` and `filter`). */
  batcher?: Omit<
    ReplBatcherOptions,
    'input' | 'filter' | 'signal' | 'logger' | 'transactions' | 'resumeOptime'
  >;
  /** Options of the {@link HashedApplierPool} stage (without `input`, `target` and `source`). */
  applier?: Omit<
    HashedApplierPoolOptions,
    'input' | 'target' | 'source' | 'catchUpUntil' | 'signal' | 'logger'
  >;
  /** Options of the full copy (modes `full` and `all`). */
  full?: ReplicatorFullOptions;
}

/**
 * The defaults {@link Replicator} applies to omitted options.
 * @public
 */
export const replicatorDefaults = Object.freeze({
  mode: 'incr' as const,
  fetchMethod: 'oplog' as FetchMethod,
  transactions: 'flatten' as TransactionMode,
  startAt: 'latest' as const,
  checkpointIntervalMs: 1000,
  indexes: 'after' as IndexTiming,
  onExistingTarget: 'fail' as OnExistingTarget,
  onDuplicate: 'fail' as DuplicatePolicy,
  spoolDir: '.mongo-replicate-spool'
});

/**
 * {@link ReplicatorOptions} with defaults applied and checked.
 * @public
 */
export interface ResolvedReplicatorOptions extends ReplicatorOptions {
  /** See {@link ReplicatorOptions.mode}. */
  readonly mode: 'full' | 'incr' | 'all';
  /** See {@link ReplicatorOptions.fetchMethod}. */
  readonly fetchMethod: FetchMethod;
  /** See {@link ReplicatorOptions.transactions}. */
  readonly transactions: TransactionMode;
  /** See {@link ReplicatorOptions.startAt}. */
  readonly startAt: Timestamp | 'latest';
  /** The checkpoint interval in milliseconds. */
  readonly checkpointIntervalMs: number;
  /** See {@link ReplicatorFullOptions.indexes}. */
  readonly indexes: IndexTiming;
  /** See {@link ReplicatorFullOptions.onExistingTarget}. */
  readonly onExistingTarget: OnExistingTarget;
  /** See {@link ReplicatorFullOptions.onDuplicate}. */
  readonly onDuplicate: DuplicatePolicy;
  /** See {@link ReplicatorFullOptions.spoolDir}. */
  readonly spoolDir: string;
}

function isTimestamp(value: unknown): value is Timestamp {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { _bsontype?: unknown })._bsontype === 'Timestamp'
  );
}

function checkConnection(field: 'source' | 'target', value: unknown): void {
  if (typeof value === 'string') {
    if (!/^mongodb(\+srv)?:\/\//.test(value)) {
      // Never echo the string: it may hold credentials.
      throw new InvalidConfigError(
        field,
        'must be a mongodb:// or mongodb+srv:// connection string, or a MongoClient'
      );
    }
    return;
  }
  if (!isClientLike(value)) {
    throw new InvalidConfigError(field, 'must be a connection string or a MongoClient');
  }
}

/** Stands in for the clients while a stage's own validation checks the other options. */
const PLACEHOLDER_CLIENT = { db: () => undefined } as unknown as MongoClient;

/** Runs a stage's option validation now, naming failures with the Replicator's option path. */
function checkNested(prefix: string, validate: () => unknown): void {
  try {
    validate();
  } catch (error) {
    if (error instanceof InvalidConfigError) {
      throw new InvalidConfigError(
        `${prefix}.${error.field}`,
        error.message.replace(/^[^:]*: /, '')
      );
    }
    throw error;
  }
}

/**
 * Checks that a checkpoint name is also a safe directory name: mode `all` keeps its spool in
 * `<spoolDir>/<name>`, and `checkpoint reset` deletes that directory.
 * @throws {@link InvalidConfigError} for a name with a path separator, or `.`/`..`
 * @internal
 */
export function checkCheckpointName(name: string): void {
  if (/[\\/]/.test(name) || name === '.' || name === '..' || name.includes('\0')) {
    throw new InvalidConfigError(
      'checkpoint.name',
      'must not contain "/" or "\\", nor be "." or ".." (it also names the spool directory)'
    );
  }
}

/**
 * Applies defaults and validates; throws {@link InvalidConfigError} naming the field.
 * @internal
 */
export function resolveReplicatorOptions(options: ReplicatorOptions): ResolvedReplicatorOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidConfigError('options', 'must be an object');
  }
  checkConnection('source', options.source);
  checkConnection('target', options.target);
  const mode = options.mode ?? replicatorDefaults.mode;
  if (mode !== 'incr' && mode !== 'full' && mode !== 'all') {
    throw new InvalidConfigError(
      'mode',
      `must be "full", "incr" or "all", got ${JSON.stringify(mode)}`
    );
  }
  const full = options.full ?? {};
  const indexes = full.indexes ?? replicatorDefaults.indexes;
  if (!['before', 'after', 'none'].includes(indexes)) {
    throw new InvalidConfigError('full.indexes', `must be "before", "after" or "none"`);
  }
  const onExistingTarget = full.onExistingTarget ?? replicatorDefaults.onExistingTarget;
  if (!['fail', 'drop', 'append'].includes(onExistingTarget)) {
    throw new InvalidConfigError('full.onExistingTarget', `must be "fail", "drop" or "append"`);
  }
  const onDuplicate = full.onDuplicate ?? replicatorDefaults.onDuplicate;
  if (onDuplicate !== 'fail' && onDuplicate !== 'replace') {
    throw new InvalidConfigError('full.onDuplicate', `must be "fail" or "replace"`);
  }
  checkNested('full.splitter', () =>
    resolveDocumentSplitterOptions({ ...full.splitter, source: PLACEHOLDER_CLIENT })
  );
  checkNested('full.executor', () =>
    resolveCollectionExecutorOptions({
      ...full.executor,
      source: PLACEHOLDER_CLIENT,
      target: PLACEHOLDER_CLIENT,
      tasks: []
    })
  );
  const spoolDir = full.spoolDir ?? replicatorDefaults.spoolDir;
  if (typeof spoolDir !== 'string' || spoolDir.length === 0) {
    throw new InvalidConfigError('full.spoolDir', 'must be a non-empty path');
  }
  const fetchMethod = options.fetchMethod ?? replicatorDefaults.fetchMethod;
  if (fetchMethod !== 'oplog' && fetchMethod !== 'changeStream') {
    throw new InvalidConfigError(
      'fetchMethod',
      `must be "oplog" or "changeStream", got ${JSON.stringify(fetchMethod)}`
    );
  }
  const transactions = options.transactions ?? replicatorDefaults.transactions;
  if (transactions !== 'flatten' && transactions !== 'preserve') {
    throw new InvalidConfigError(
      'transactions',
      `must be "flatten" or "preserve", got ${JSON.stringify(transactions)}`
    );
  }
  const startAt = options.startAt ?? replicatorDefaults.startAt;
  if (startAt !== 'latest' && !isTimestamp(startAt)) {
    throw new InvalidConfigError('startAt', 'must be a BSON Timestamp or "latest"');
  }
  const checkpoint = options.checkpoint;
  if (
    typeof checkpoint !== 'object' ||
    checkpoint === null ||
    typeof checkpoint.name !== 'string' ||
    checkpoint.name.length === 0
  ) {
    throw new InvalidConfigError('checkpoint.name', 'must be a non-empty string');
  }
  checkCheckpointName(checkpoint.name);
  const checkpointIntervalMs = checkpoint.intervalMs ?? replicatorDefaults.checkpointIntervalMs;
  if (!Number.isFinite(checkpointIntervalMs) || checkpointIntervalMs < 0) {
    throw new InvalidConfigError(
      'checkpoint.intervalMs',
      `must be a number >= 0, got ${String(checkpointIntervalMs)}`
    );
  }
  return {
    ...options,
    mode,
    fetchMethod,
    transactions,
    startAt,
    checkpointIntervalMs,
    indexes,
    onExistingTarget,
    onDuplicate,
    spoolDir
  };
}
