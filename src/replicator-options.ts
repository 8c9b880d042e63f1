/**
 * Options of {@link Replicator}: what to replicate, from where to where, and each stage's slice.
 * Everything is validated before any connection is made.
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { type CheckpointStore } from './checkpoint/checkpoint-store.js';
import { InvalidConfigError } from './errors.js';
import { type HashedApplierPoolOptions } from './incr/hashed-applier-pool.js';
import { type OplogFetcherOptions } from './incr/oplog-fetcher.js';
import { type ReplBatcherOptions } from './incr/repl-batcher.js';
import { type StageOptions } from './lifecycle/stage.js';
import { type NamespaceFilterOptions } from './namespace/namespace-filter.js';

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
 * Options of {@link Replicator}.
 * @public
 */
export interface ReplicatorOptions extends StageOptions {
  /** The source replica set: a connection string, or a `MongoClient` the host connects and closes. */
  source: string | MongoClient;
  /** The target deployment: a connection string, or a `MongoClient` the host connects and closes. */
  target: string | MongoClient;
  /**
   * What to do. Only `'incr'` (apply the source oplog from a checkpoint or `startAt`) exists in
   * this release; `'full'` and `'all'` come with full sync.
   * @defaultValue 'incr'
   */
  mode?: 'incr';
  /**
   * How to read the source. Only `'oplog'` (tailing `local.oplog.rs`) exists in this release.
   * @defaultValue 'oplog'
   */
  fetchMethod?: 'oplog';
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
  /** Options of the {@link OplogFetcher} stage (without `source` and `start`). */
  fetcher?: Omit<OplogFetcherOptions, 'source' | 'start' | 'signal' | 'logger'>;
  /** Options of the {@link ReplBatcher} stage (without `input` and `filter`). */
  batcher?: Omit<ReplBatcherOptions, 'input' | 'filter' | 'signal' | 'logger'>;
  /** Options of the {@link HashedApplierPool} stage (without `input`, `target` and `source`). */
  applier?: Omit<HashedApplierPoolOptions, 'input' | 'target' | 'source' | 'signal' | 'logger'>;
}

/**
 * The defaults {@link Replicator} applies to omitted options.
 * @public
 */
export const replicatorDefaults = Object.freeze({
  mode: 'incr' as const,
  fetchMethod: 'oplog' as const,
  startAt: 'latest' as const,
  checkpointIntervalMs: 1000
});

/**
 * {@link ReplicatorOptions} with defaults applied and checked.
 * @public
 */
export interface ResolvedReplicatorOptions extends ReplicatorOptions {
  /** See {@link ReplicatorOptions.mode}. */
  readonly mode: 'incr';
  /** See {@link ReplicatorOptions.fetchMethod}. */
  readonly fetchMethod: 'oplog';
  /** See {@link ReplicatorOptions.startAt}. */
  readonly startAt: Timestamp | 'latest';
  /** The checkpoint interval in milliseconds. */
  readonly checkpointIntervalMs: number;
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
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as { db?: unknown }).db !== 'function'
  ) {
    throw new InvalidConfigError(field, 'must be a connection string or a MongoClient');
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
  if (mode !== 'incr') {
    throw new InvalidConfigError(
      'mode',
      `"${String(mode)}" is not available yet; this release supports "incr"`
    );
  }
  const fetchMethod = options.fetchMethod ?? replicatorDefaults.fetchMethod;
  if (fetchMethod !== 'oplog') {
    throw new InvalidConfigError(
      'fetchMethod',
      `"${String(fetchMethod)}" is not available yet; this release supports "oplog"`
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
  const checkpointIntervalMs = checkpoint.intervalMs ?? replicatorDefaults.checkpointIntervalMs;
  if (!Number.isFinite(checkpointIntervalMs) || checkpointIntervalMs < 0) {
    throw new InvalidConfigError(
      'checkpoint.intervalMs',
      `must be a number >= 0, got ${String(checkpointIntervalMs)}`
    );
  }
  return { ...options, mode, fetchMethod, startAt, checkpointIntervalMs };
}
