/**
 * Options of the {@link OplogFetcher}: the interface hosts fill in, the frozen defaults, and
 * `resolveOplogFetcherOptions()`, which applies the defaults and validates everything before
 * any I/O (a wrong value throws {@link InvalidConfigError} naming the field and the range).
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { readRetryOptions, retryDefaults, type RetryOptions } from '../lifecycle/retry.js';
import { type StageOptions } from '../lifecycle/stage.js';
import { type OptionReader, readOptions } from '../options/option-reader.js';

/**
 * How the {@link OplogFetcher} retries after a transient failure: the backoff of re-opening the
 * oplog cursor.
 * @public
 */
export type OplogFetcherRetryOptions = Pick<
  RetryOptions,
  'maxRetryTimeMs' | 'minDelayMs' | 'maxDelayMs' | 'jitter'
>;

/**
 * Options of the {@link OplogFetcher}.
 * @public
 */
export interface OplogFetcherOptions extends StageOptions {
  /**
   * A connected client of the source replica set. The host connects it and closes it; the
   * fetcher only reads `local.oplog.rs` through it.
   */
  source: MongoClient;
  /**
   * The optime of the last entry **already applied** (checkpoint semantics): fetching resumes
   * with the entry after it, and that entry must still be in the source oplog. `'latest'` means
   * the source's newest entry when the fetcher opens, so only later writes are fetched.
   */
  start: Timestamp | 'latest';
  /**
   * What `start` is. `'entry'`: an entry of this oplog (checkpoint semantics above). `'time'`: a
   * point in time that need not be an entry here, such as a sharded cluster's cluster time read
   * on its mongos: fetching begins with the first entry after it, and the oplog's oldest entry
   * must be no newer than it (else entries after it may be gone: {@link OplogStartMissingError}).
   * @defaultValue 'entry'
   */
  startKind?: 'entry' | 'time';
  /**
   * Chunk-migration entries (`fromMigrate: true`): `'skip'` them (they copy documents that were
   * replicated from the shard that wrote them), or `'deliver'` them for a consumer that orders
   * around migrations (shard workers, which skip them when applying).
   * @defaultValue 'skip'
   */
  fromMigrate?: 'skip' | 'deliver';
  /**
   * Entries per `find`/`getMore` batch.
   * @defaultValue 1000
   */
  batchSize?: number;
  /**
   * How long a `getMore` waits on the server for new entries before returning an empty batch.
   * Also bounds how long a graceful stop may wait for an in-flight `getMore`.
   * @defaultValue 1000
   */
  maxAwaitTimeMS?: number;
  /**
   * Most entries held in `output`; the fetcher stops reading while it is full.
   * @defaultValue 10_000
   */
  bufferMaxEntries?: number;
  /**
   * Most BSON bytes held in `output` (one larger entry still passes into an empty buffer).
   * @defaultValue 64 MiB
   */
  bufferMaxBytes?: number;
  /**
   * Backoff when a read fails transiently (network error, step-down, lost cursor).
   * @defaultValue {@link retryDefaults} (retry for up to 120 s, 500 ms doubling to 30 s, jitter)
   */
  retry?: OplogFetcherRetryOptions;
  /**
   * The interval of `lag` events; each costs one small query on the source, and none is made
   * while nobody listens to `lag`.
   * @defaultValue 1000
   */
  lagIntervalMs?: number;
}

/**
 * The defaults {@link OplogFetcher} applies to omitted options.
 * @public
 */
export const oplogFetcherDefaults = Object.freeze({
  batchSize: 1000,
  maxAwaitTimeMS: 1000,
  bufferMaxEntries: 10_000,
  bufferMaxBytes: 64 * 1024 * 1024,
  lagIntervalMs: 1000
});

/**
 * {@link OplogFetcherOptions} with every default applied and every value checked.
 * @public
 */
export interface ResolvedOplogFetcherOptions {
  /** See {@link OplogFetcherOptions.source}. */
  readonly source: MongoClient;
  /** See {@link OplogFetcherOptions.start}. */
  readonly start: Timestamp | 'latest';
  /** See {@link OplogFetcherOptions.startKind}. */
  readonly startKind: 'entry' | 'time';
  /** See {@link OplogFetcherOptions.fromMigrate}. */
  readonly fromMigrate: 'skip' | 'deliver';
  /** See {@link OplogFetcherOptions.batchSize}. */
  readonly batchSize: number;
  /** See {@link OplogFetcherOptions.maxAwaitTimeMS}. */
  readonly maxAwaitTimeMS: number;
  /** See {@link OplogFetcherOptions.bufferMaxEntries}. */
  readonly bufferMaxEntries: number;
  /** See {@link OplogFetcherOptions.bufferMaxBytes}. */
  readonly bufferMaxBytes: number;
  /** See {@link OplogFetcherOptions.retry}. */
  readonly retry: Readonly<Required<OplogFetcherRetryOptions>>;
  /** See {@link OplogFetcherOptions.lagIntervalMs}. */
  readonly lagIntervalMs: number;
}

/**
 * Reads the fetcher's tunable options (everything but `source`, `start` and the lifecycle
 * options): what the Replicator's `fetcher` slice holds. Shared by both fetchers.
 * @throws {@link InvalidConfigError} naming the field
 * @internal
 */
export function readFetcherSettings(
  reader: OptionReader
): Omit<ResolvedOplogFetcherOptions, 'source' | 'start' | 'startKind' | 'fromMigrate'> {
  const d = oplogFetcherDefaults;
  const retry = readRetryOptions(reader.object('retry'), false);
  return {
    batchSize: reader.integer('batchSize', d.batchSize),
    maxAwaitTimeMS: reader.integer('maxAwaitTimeMS', d.maxAwaitTimeMS),
    bufferMaxEntries: reader.integer('bufferMaxEntries', d.bufferMaxEntries),
    bufferMaxBytes: reader.integer('bufferMaxBytes', d.bufferMaxBytes, { infinity: true }),
    retry: Object.freeze({
      maxRetryTimeMs: retry.maxRetryTimeMs ?? retryDefaults.maxRetryTimeMs,
      minDelayMs: retry.minDelayMs ?? retryDefaults.minDelayMs,
      maxDelayMs: retry.maxDelayMs ?? retryDefaults.maxDelayMs,
      jitter: retry.jitter ?? retryDefaults.jitter
    }),
    lagIntervalMs: reader.integer('lagIntervalMs', d.lagIntervalMs, { min: 10 })
  };
}

const START_KINDS = ['entry', 'time'] as const;
const FROM_MIGRATE = ['skip', 'deliver'] as const;

/**
 * Reads `start`: the optime of the last applied entry, or `'latest'`.
 * @internal
 */
export function readStart(reader: OptionReader): Timestamp | 'latest' {
  if (reader.raw('start') === 'latest') return 'latest';
  const start = reader.optionalTimestamp('start');
  if (start === undefined) {
    reader.fail('start', "expected a Timestamp (the last applied optime) or 'latest'");
  }
  return start;
}

/**
 * Applies {@link oplogFetcherDefaults} and validates every option. No I/O.
 *
 * @throws {@link InvalidConfigError} naming the first invalid field, its value and the allowed
 * range
 * @internal
 */
export function resolveOplogFetcherOptions(
  options: OplogFetcherOptions
): ResolvedOplogFetcherOptions {
  return readOptions(options, reader => {
    reader.signal();
    reader.logger();
    return Object.freeze({
      source: reader.client('source'),
      start: readStart(reader),
      startKind: reader.oneOf('startKind', START_KINDS, 'entry'),
      fromMigrate: reader.oneOf('fromMigrate', FROM_MIGRATE, 'skip'),
      ...readFetcherSettings(reader)
    });
  });
}
