/**
 * Options of the {@link OplogFetcher}: the interface hosts fill in, the frozen defaults, and
 * `resolveOplogFetcherOptions()`, which applies the defaults and validates everything before
 * any I/O (a wrong value throws {@link InvalidConfigError} naming the field and the range).
 */
import { type MongoClient, Timestamp } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { checkClient, checkOptionsObject, rejectUnknownKeys } from '../lifecycle/option-checks.js';
import { retryDefaults, type RetryOptions } from '../lifecycle/retry.js';
import { type StageOptions } from '../lifecycle/stage.js';
import { redactText } from '../logger.js';

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

/** Every key the fetcher understands; anything else is most likely a typo. */
const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'signal',
  'logger',
  'source',
  'start',
  'batchSize',
  'maxAwaitTimeMS',
  'bufferMaxEntries',
  'bufferMaxBytes',
  'retry',
  'lagIntervalMs'
]);
const RETRY_KEYS: ReadonlySet<string> = new Set([
  'maxRetryTimeMs',
  'minDelayMs',
  'maxDelayMs',
  'jitter'
]);

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
  checkOptionsObject(options, KNOWN_KEYS);
  checkClient('source', options.source);
  return Object.freeze({
    source: options.source,
    start: checkStart(options.start),
    batchSize: integer('batchSize', options.batchSize, oplogFetcherDefaults.batchSize, 1),
    maxAwaitTimeMS: integer(
      'maxAwaitTimeMS',
      options.maxAwaitTimeMS,
      oplogFetcherDefaults.maxAwaitTimeMS,
      1
    ),
    bufferMaxEntries: integer(
      'bufferMaxEntries',
      options.bufferMaxEntries,
      oplogFetcherDefaults.bufferMaxEntries,
      1
    ),
    bufferMaxBytes: bytes(options.bufferMaxBytes),
    retry: checkRetry(options.retry),
    lagIntervalMs: integer(
      'lagIntervalMs',
      options.lagIntervalMs,
      oplogFetcherDefaults.lagIntervalMs,
      10
    )
  });
}

function checkStart(start: unknown): Timestamp | 'latest' {
  if (start === 'latest') return start;
  // Checked by brand, not instanceof: the host may hold a Timestamp from another copy of bson.
  if (
    start !== null &&
    typeof start === 'object' &&
    (start as { _bsontype?: unknown })._bsontype === 'Timestamp'
  ) {
    const { t, i } = start as Timestamp;
    // Re-created with our copy of the class so the driver serialises it without surprises.
    return new Timestamp({ t, i });
  }
  throw new InvalidConfigError(
    'start',
    `expected a Timestamp (the last applied optime) or 'latest', got ${describe(start)}`
  );
}

function integer(field: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidConfigError(field, `expected an integer ≥ ${min}, got ${describe(value)}`);
  }
  return value;
}

function bytes(value: unknown): number {
  if (value === undefined) return oplogFetcherDefaults.bufferMaxBytes;
  const ok =
    typeof value === 'number' &&
    (value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value >= 1));
  if (!ok) {
    throw new InvalidConfigError(
      'bufferMaxBytes',
      `expected an integer ≥ 1 or Infinity, got ${describe(value)}`
    );
  }
  return value;
}

function checkRetry(retry: unknown): Readonly<Required<OplogFetcherRetryOptions>> {
  if (retry === undefined) retry = {};
  if (retry === null || typeof retry !== 'object') {
    throw new InvalidConfigError('retry', `expected an object, got ${describe(retry)}`);
  }
  rejectUnknownKeys(retry, RETRY_KEYS, 'retry.');
  const r = retry as OplogFetcherRetryOptions;
  const maxRetryTimeMs = delay('retry.maxRetryTimeMs', r.maxRetryTimeMs, true);
  const minDelayMs = delay('retry.minDelayMs', r.minDelayMs, false);
  const maxDelayMs = delay('retry.maxDelayMs', r.maxDelayMs, true);
  if (r.jitter !== undefined && typeof r.jitter !== 'boolean') {
    throw new InvalidConfigError('retry.jitter', `expected a boolean, got ${describe(r.jitter)}`);
  }
  return Object.freeze({
    maxRetryTimeMs: maxRetryTimeMs ?? retryDefaults.maxRetryTimeMs,
    minDelayMs: minDelayMs ?? retryDefaults.minDelayMs,
    maxDelayMs: maxDelayMs ?? retryDefaults.maxDelayMs,
    jitter: r.jitter ?? retryDefaults.jitter
  });
}

function delay(field: string, value: unknown, allowInfinity: boolean): number | undefined {
  if (value === undefined) return undefined;
  const ok =
    typeof value === 'number' &&
    value >= 0 &&
    (Number.isFinite(value) || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) {
    throw new InvalidConfigError(
      field,
      `expected a number ≥ 0${allowInfinity ? ' or Infinity' : ''}, got ${describe(value)}`
    );
  }
  return value;
}

/** A short, safe rendering of a bad value (never an object's contents: it may hold a URI). */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    // Redact before cutting: a cut URI may no longer look like one to the redactor.
    const safe = redactText(value);
    return JSON.stringify(safe.length > 40 ? `${safe.slice(0, 40)}…` : safe);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  return typeof value;
}
