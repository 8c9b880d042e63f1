/**
 * Options of {@link Replicator}: what to replicate, from where to where, and each stage's slice.
 * Everything is validated before any connection is made.
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { type HashedApplierPoolOptions, readApplierSettings } from './apply/hashed-applier-pool.js';
import { type ReplBatcherOptions, type TransactionMode } from './batch/repl-batcher.js';
import { readBatcherSettings, readTransactionMode } from './batch/repl-batcher-options.js';
import { readOnExistingTarget } from './catalog/catalog-copier-options.js';
import { type OnExistingTarget } from './catalog/index.js';
import { type CheckpointStore } from './checkpoint/checkpoint-store.js';
import { InvalidConfigError } from './errors.js';
import { type OplogFetcherOptions } from './fetch/oplog-fetcher.js';
import { readFetcherSettings } from './fetch/oplog-fetcher-options.js';
import {
  type CollectionExecutorOptions,
  type DuplicatePolicy
} from './full/collection-executor.js';
import { readExecutorSettings, readOnDuplicate } from './full/collection-executor-options.js';
import { type IndexTiming } from './full/full-copy.js';
import { isLeasingStore } from './lease/lease.js';
import { type StageOptions } from './lifecycle/stage.js';
import { redactConnectionString } from './logger.js';
import { NamespaceFilter, type NamespaceFilterOptions } from './namespace/namespace-filter.js';
import { isClientLike, type OptionReader, readOptions } from './options/option-reader.js';
import { type DocumentSplitterOptions } from './split/document-splitter.js';
import { readSplitterSettings } from './split/document-splitter-options.js';
import { type RateLimit, readRateLimit } from './throttle/rate-limit.js';

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
  /**
   * The checkpoint's name; restarting with the same name resumes where it stopped. Two jobs
   * that share a store (the same target, or the same directory) need different names: each
   * would otherwise resume from, and overwrite, the other's position.
   * @defaultValue `'default'`
   */
  name?: string;
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
    'source' | 'target' | 'tasks' | 'onDuplicate' | 'beforeWrite' | 'signal' | 'logger' | 'throttle'
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
  /**
   * Which namespaces to replicate and how to rename them, and which operations not to apply
   * (`filter.skip`: the target then differs from the source on purpose).
   * @defaultValue everything but system namespaces, every operation
   */
  filter?: NamespaceFilterOptions;
  /**
   * Where to start when no checkpoint exists: the optime of the last entry already on the target,
   * or `'latest'` (only writes made from now on).
   * @defaultValue 'latest'
   */
  startAt?: Timestamp | 'latest';
  /**
   * The checkpoint: its name, where it is stored and how often it is written.
   * @defaultValue name `'default'`, in the target, every second
   */
  checkpoint?: ReplicatorCheckpointOptions;
  /**
   * Options of the fetcher stage, the {@link OplogFetcher} or the {@link ChangeStreamFetcher}
   * (without `source` and `start`).
   */
  fetcher?: Omit<
    OplogFetcherOptions,
    'source' | 'start' | 'startKind' | 'fromMigrate' | 'signal' | 'logger'
  >;
  /** Options of the {@link ReplBatcher} stage (without `input` and `filter`). */
  batcher?: Omit<
    ReplBatcherOptions,
    'input' | 'filter' | 'signal' | 'logger' | 'transactions' | 'resumeOptime'
  >;
  /**
   * Options of the {@link HashedApplierPool} stage (without what the Replicator sets itself: the
   * queues and clients, the catch-up and replay windows, the unique-index state it persists).
   */
  applier?: Omit<
    HashedApplierPoolOptions,
    | 'input'
    | 'target'
    | 'source'
    | 'catchUpUntil'
    | 'replayUntil'
    | 'uniqueIndexes'
    | 'onUniqueIndexes'
    | 'beforeWrite'
    | 'throttle'
    | 'signal'
    | 'logger'
  >;
  /** Options of the full copy (modes `full` and `all`). */
  full?: ReplicatorFullOptions;
  /**
   * Writes to the target (the copy and the applier) skip its document validation, so the
   * target holds what the source holds — also documents its collection's validator rejects
   * (written before the validator, or with validation bypassed). `false` lets the target's
   * validators refuse them, which stops replication. Needs the `bypassDocumentValidation`
   * privilege action on the target (built-in roles `dbAdmin` or `restore`; `readWrite` alone
   * lacks it).
   * Overrides `applier.bypassDocumentValidation` and `full.executor.bypassDocumentValidation`.
   * @defaultValue true
   */
  bypassDocumentValidation?: boolean;
  /** The lease that makes this replicator the only one using its checkpoint name. */
  lease?: ReplicatorLeaseOptions;
  /**
   * When another replicator holds the checkpoint's lease: `false` fails at start with
   * {@link LeaseHeldError} naming it; `true` waits in state `standby` (a `lease` event says who
   * holds it) and takes over, resuming from the checkpoint, once the holder stops (its lease
   * released or expired). `start()` resolves once this replicator runs.
   * @defaultValue false
   */
  standby?: boolean;
  /**
   * Caps what is written to the target, the copy's inserts and the applier's writes together;
   * change it while running with {@link Replicator.setRateLimit}. While the limit holds
   * replication back, `lag` events and the status say so (`heldBack: 'rateLimit'`).
   * @defaultValue unlimited
   */
  rateLimit?: RateLimit;
  /**
   * Read only some shards of a sharded source, as one of several workers sharing the job (see
   * docs/sharded-clusters.md, "Several workers"). Each worker has its own checkpoint name (and
   * lease); the workers of one `group` wait for each other through the target before DDL
   * commands and after chunk migrations, so that the target sees every document's writes in
   * order whichever worker read them. Needs `fetchMethod: 'oplog'` and mode `'incr'`.
   * @defaultValue every shard, in this replicator alone
   */
  shardWorker?: ShardWorkerSettings;
  /**
   * A sharded target (its mongos): `'source'` shards each replicated collection that is sharded
   * on the source on the same key (`shardCollection` before the copy writes into it, and when the
   * source shards one while replicating); `'none'` leaves sharding to the host (collections it
   * sharded beforehand are written through the mongos like any others). `'source'` needs both
   * sides to be sharded clusters.
   * @defaultValue 'none'
   */
  targetSharding?: 'none' | 'source';
}

/**
 * One worker's share of a sharded source ({@link ReplicatorOptions.shardWorker}).
 * @public
 */
export interface ShardWorkerSettings {
  /** The name every worker of the job shares. */
  group: string;
  /** The shards this worker reads, by name (`listShards` `_id`). */
  shards: string[];
}

/**
 * Options of the checkpoint's lease (see docs/operations.md, "One owner per checkpoint").
 * @public
 */
export interface ReplicatorLeaseOptions {
  /**
   * How long the lease lasts unless renewed (every third of it). A replicator that cannot renew
   * it stops writing a fifth of it before it expires; a standby takes over once it expired.
   * Shorter: faster takeover; longer: more tolerance of a slow or briefly unreachable store.
   * @defaultValue 15000
   */
  ttlMs?: number;
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
  checkpointName: 'default',
  checkpointIntervalMs: 1000,
  indexes: 'after' as IndexTiming,
  onExistingTarget: 'fail' as OnExistingTarget,
  onDuplicate: 'fail' as DuplicatePolicy,
  spoolDir: '.mongo-replicate-spool',
  leaseTtlMs: 15_000,
  standby: false
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
  /** See {@link ReplicatorOptions.checkpoint}; `name` and `intervalMs` are resolved. */
  readonly checkpoint: ReplicatorCheckpointOptions & {
    readonly name: string;
    readonly intervalMs: number;
  };
  /** See {@link ReplicatorOptions.fetcher}; every default applied. */
  readonly fetcher: NonNullable<ReplicatorOptions['fetcher']>;
  /** See {@link ReplicatorOptions.batcher}; every default applied. */
  readonly batcher: NonNullable<ReplicatorOptions['batcher']>;
  /** See {@link ReplicatorOptions.applier}; every default applied. */
  readonly applier: NonNullable<ReplicatorOptions['applier']>;
  /** See {@link ReplicatorOptions.full}; every default applied. */
  readonly full: NonNullable<ReplicatorOptions['full']>;
  /** See {@link ReplicatorOptions.lease}; every default applied. */
  readonly lease: Required<ReplicatorLeaseOptions>;
  /** See {@link ReplicatorOptions.standby}. */
  readonly standby: boolean;
  /** See {@link ReplicatorOptions.rateLimit}: the limit the replicator starts with. */
  readonly rateLimit: Readonly<RateLimit>;
  /** See {@link ReplicatorOptions.shardWorker}. */
  readonly shardWorker?: Readonly<ShardWorkerSettings>;
  /** See {@link ReplicatorOptions.targetSharding}. */
  readonly targetSharding: 'none' | 'source';
}

function readConnection(reader: OptionReader, field: 'source' | 'target'): string | MongoClient {
  const value = reader.raw(field);
  if (typeof value === 'string') {
    if (!/^mongodb(\+srv)?:\/\//.test(value)) {
      // Never echo the string: it may hold credentials.
      reader.fail(
        field,
        'must be a mongodb:// or mongodb+srv:// connection string, or a MongoClient'
      );
    }
    return value;
  }
  if (!isClientLike(value)) reader.fail(field, 'must be a connection string or a MongoClient');
  return value;
}

/**
 * A connection string with its credentials (user, password, secret URI options) redacted; a
 * client as it is.
 * @internal
 */
export function redactConnection(connection: string | MongoClient): string | MongoClient {
  return typeof connection === 'string' ? redactConnectionString(connection) : connection;
}

/** Drops `undefined` values, so a resolved slice fits its optional-key option type. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
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
 * Applies defaults and validates every option, nested stage options included, with the checks
 * the stages themselves run; refuses unknown keys at every level. Pure: no connection.
 * @throws {@link InvalidConfigError} naming the field's full path (`applier.lanes`)
 * @internal
 */
export function resolveReplicatorOptions(options: ReplicatorOptions): ResolvedReplicatorOptions {
  return readOptions(options, reader => {
    const source = readConnection(reader, 'source');
    const target = readConnection(reader, 'target');
    const mode = reader.oneOf('mode', MODES, replicatorDefaults.mode);
    const fetchMethod = reader.oneOf('fetchMethod', FETCH_METHODS, replicatorDefaults.fetchMethod);
    const transactions = readTransactionMode(reader);
    const startAt =
      reader.raw('startAt') === 'latest' ? 'latest' : reader.optionalTimestamp('startAt');
    if (reader.has('startAt') && startAt === undefined) {
      reader.fail('startAt', 'must be a BSON Timestamp or "latest"');
    }
    const filter = reader.custom('filter', value => {
      // Compiling it checks every pattern and rename rule (and refuses unknown keys).
      new NamespaceFilter(value as NamespaceFilterOptions | undefined);
      return value as NamespaceFilterOptions | undefined;
    });
    const checkpoint = readOptions(
      reader.raw('checkpoint'),
      c => {
        const name = c.custom('name', (value, field) => {
          if (value === undefined) return replicatorDefaults.checkpointName;
          if (typeof value !== 'string' || value.length === 0) {
            throw new InvalidConfigError(field, 'must be a non-empty string');
          }
          return value;
        });
        checkCheckpointName(name);
        const store = c.custom('store', (value, field) => {
          if (value === undefined) return undefined;
          const candidate = value as Partial<CheckpointStore> | null;
          if (
            typeof candidate?.load !== 'function' ||
            typeof candidate.save !== 'function' ||
            typeof candidate.delete !== 'function'
          ) {
            throw new InvalidConfigError(field, 'expected a CheckpointStore (load, save, delete)');
          }
          return value as CheckpointStore;
        });
        return defined({
          name,
          store,
          intervalMs: c.number('intervalMs', replicatorDefaults.checkpointIntervalMs)
        });
      },
      'checkpoint'
    );
    const fetcher = readOptions(reader.raw('fetcher'), readFetcherSettings, 'fetcher');
    const batcher = readOptions(reader.raw('batcher'), readBatcherSettings, 'batcher');
    const applier = readOptions(reader.raw('applier'), readApplierSettings, 'applier');
    const full = readOptions(
      reader.raw('full'),
      f => ({
        indexes: f.oneOf('indexes', INDEX_TIMINGS, replicatorDefaults.indexes),
        onExistingTarget: readOnExistingTarget(f),
        onDuplicate: readOnDuplicate(f),
        splitter: readOptions(f.raw('splitter'), readSplitterSettings, f.field('splitter')),
        executor: readOptions(f.raw('executor'), readExecutorSettings, f.field('executor')),
        spoolDir: f.string('spoolDir', replicatorDefaults.spoolDir)
      }),
      'full'
    );
    const bypass = reader.has('bypassDocumentValidation')
      ? { bypassDocumentValidation: reader.boolean('bypassDocumentValidation', true) }
      : {};
    const lease = readOptions(
      reader.raw('lease'),
      l => ({
        ttlMs: l.integer('ttlMs', replicatorDefaults.leaseTtlMs, { min: 1000, max: 600_000 })
      }),
      'lease'
    );
    const standby = reader.boolean('standby', replicatorDefaults.standby);
    if (standby && checkpoint.store !== undefined && !isLeasingStore(checkpoint.store)) {
      reader.fail(
        'standby',
        'needs a checkpoint store that keeps leases (acquireLease, renewLease, releaseLease, readLease), as the stores of this package do'
      );
    }
    // A checkpoint kept outside the target must not outlive writes the target could still roll
    // back: those are acknowledged by a majority unless the host chose otherwise.
    const majority =
      checkpoint.store === undefined ? {} : { writeConcern: { w: 'majority' as const } };
    const rateLimit = readRateLimit(reader.raw('rateLimit'));
    const shardWorker = readShardWorker(reader, mode, fetchMethod);
    const targetSharding = reader.oneOf('targetSharding', TARGET_SHARDING, 'none');
    const signal = reader.signal();
    const logger = reader.logger();
    return Object.freeze(
      defined({
        source,
        target,
        mode,
        fetchMethod,
        transactions,
        startAt: startAt ?? replicatorDefaults.startAt,
        filter,
        checkpoint,
        checkpointIntervalMs: checkpoint.intervalMs,
        fetcher,
        batcher: defined(batcher),
        applier: {
          ...majority,
          ...defined({
            ...applier,
            ...uniqueConflictDefault(filter, reader.raw('applier')),
            ...bypass
          })
        },
        full: defined({
          ...full,
          executor: { ...majority, ...defined({ ...full.executor, ...bypass }) }
        }),
        indexes: full.indexes,
        onExistingTarget: full.onExistingTarget,
        onDuplicate: full.onDuplicate,
        spoolDir: full.spoolDir,
        lease,
        standby,
        rateLimit,
        shardWorker,
        targetSharding,
        signal,
        logger
      })
    ) as ResolvedReplicatorOptions;
  });
}

const TARGET_SHARDING = ['none', 'source'] as const;

/** Reads `shardWorker`: a group name and a non-empty list of distinct shard names. */
function readShardWorker(
  reader: OptionReader,
  mode: ResolvedReplicatorOptions['mode'],
  fetchMethod: FetchMethod
): Readonly<ShardWorkerSettings> | undefined {
  if (!reader.has('shardWorker')) return undefined;
  const settings = readOptions(
    reader.raw('shardWorker'),
    w => {
      const group = w.custom('group', (value, field) => {
        if (typeof value !== 'string' || value.length === 0) {
          throw new InvalidConfigError(field, 'must be a non-empty string');
        }
        return value;
      });
      const shards = w.custom('shards', (value, field) => {
        const names = Array.isArray(value) ? (value as unknown[]) : [];
        if (
          names.length === 0 ||
          !names.every(name => typeof name === 'string' && name.length > 0) ||
          new Set(names).size !== names.length
        ) {
          throw new InvalidConfigError(field, 'must be a non-empty array of distinct shard names');
        }
        return names as string[];
      });
      return Object.freeze({ group, shards: Object.freeze([...shards]) as string[] });
    },
    'shardWorker'
  );
  if (fetchMethod !== 'oplog') {
    reader.fail('shardWorker', "needs fetchMethod 'oplog' (a change stream reads every shard)");
  }
  if (mode !== 'incr') {
    reader.fail(
      'shardWorker',
      "needs mode 'incr': copy first with one replicator (mode 'full'), then start the workers from the copy's start (startAt)"
    );
  }
  return settings;
}

/**
 * With `filter.skip`, `applier.uniqueConflictPolicy` defaults to `'ignore'`: a target that keeps
 * what the source deleted, dropped or changed can hold a value a unique index allows once (a
 * kept document and a new one reusing its value), and stopping replication for it would defeat
 * the skip. A policy set explicitly is kept.
 */
function uniqueConflictDefault(
  filter: NamespaceFilterOptions | undefined,
  applier: unknown
): { uniqueConflictPolicy?: 'ignore' } {
  const skipping = (filter?.skip?.length ?? 0) > 0;
  const explicit = (applier as { uniqueConflictPolicy?: unknown } | undefined)
    ?.uniqueConflictPolicy;
  return skipping && explicit === undefined ? { uniqueConflictPolicy: 'ignore' } : {};
}

const MODES: readonly ('full' | 'incr' | 'all')[] = ['full', 'incr', 'all'];
const FETCH_METHODS: readonly FetchMethod[] = ['oplog', 'changeStream'];
const INDEX_TIMINGS: readonly IndexTiming[] = ['before', 'after', 'none'];
