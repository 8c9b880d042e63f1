/**
 * Options of the {@link HashedApplierPool}: what hosts fill in, the frozen defaults, and the
 * validation that runs in the constructor (before any I/O).
 */
import {
  type MongoClient,
  type Timestamp,
  type WriteConcern,
  type WriteConcernSettings
} from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type BoundedQueue } from '../lifecycle/bounded-queue.js';
import { readRetryOptions, type StageRetryOptions } from '../lifecycle/retry.js';
import { type StageOptions } from '../lifecycle/stage.js';
import {
  type OptionReader,
  readOptions,
  readThrottle,
  readWriteConcern
} from '../options/option-reader.js';
import { type ApplyBatch } from '../pipeline/pipeline-items.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { type ConflictPolicy } from './apply-outcome.js';
import { type UniqueConflictPolicy, type UniqueGuardState } from './unique-guard.js';

/**
 * Options for {@link HashedApplierPool}.
 * @public
 */
export interface HashedApplierPoolOptions extends StageOptions {
  /** The batches to apply (from the ReplBatcher). The pool closes it on `stop()`. */
  input: BoundedQueue<ApplyBatch>;
  /** The target, connected by the host; the pool never closes it. */
  target: MongoClient;
  /**
   * Writer lanes applying in parallel.
   * @defaultValue 16
   */
  lanes?: number;
  /**
   * What to do about an update or delete that matches nothing after catch-up.
   * @defaultValue `'ignore'` (counted and emitted as a `conflict` event, never silent)
   */
  conflictPolicy?: ConflictPolicy;
  /** The source, connected by the host; required by the `upsert` conflict policy. */
  source?: MongoClient;
  /**
   * The optime the full copy ended at: misses at or before it are expected (counted as
   * `expectedMissing`, no conflict).
   * @defaultValue none: every miss is a conflict
   */
  catchUpUntil?: Timestamp;
  /**
   * Backoff for transient target failures (network, step-down).
   * @defaultValue {@link retryDefaults}
   */
  retry?: StageRetryOptions;
  /**
   * Write concern of every write.
   * @defaultValue the target client's
   */
  writeConcern?: WriteConcern | WriteConcernSettings;
  /**
   * Writes skip the target's document validation, so the target holds what the source holds,
   * including documents its validator now rejects (written before the validator, or with
   * validation bypassed). Needs the `bypassDocumentValidation` privilege on the target.
   * @defaultValue true
   */
  bypassDocumentValidation?: boolean;
  /**
   * What to do when a unique index that was relaxed (made non-unique while the target may be
   * inconsistent) still has duplicate keys once the target is consistent: `fail` stops naming
   * the index, `ignore` leaves it non-unique and reports it. See {@link UniqueIndexEvent}.
   * @defaultValue `'fail'`
   */
  uniqueConflictPolicy?: UniqueConflictPolicy;
  /**
   * Until this optime the target may already hold later versions of documents (a restart
   * replays what the previous run applied past its checkpoint): unique indexes relaxed on a
   * conflict stay relaxed until it is applied.
   * @defaultValue none (besides `catchUpUntil`)
   */
  replayUntil?: Timestamp;
  /**
   * Unique indexes already relaxed, and namespaces already applied in source order (from the
   * checkpoint, or a full copy's relaxed indexes).
   * @defaultValue none
   */
  uniqueIndexes?: UniqueGuardState;
  /**
   * Persists the relaxed indexes and ordered namespaces (the checkpoint does); awaited before
   * anything is written under a relaxed index.
   * @defaultValue none: nothing is persisted
   */
  onUniqueIndexes?: (state: UniqueGuardState) => Promise<void>;
  /**
   * Runs synchronously right before every write to the target (documents, commands, index
   * changes, a transaction's commit). When it throws, the write is not made and the pool fails
   * with that error: the Replicator passes its lease check here, so a replicator that lost its
   * checkpoint's lease writes nothing more.
   * @defaultValue none
   */
  beforeWrite?: () => void;
  /**
   * Batches being applied at once (1 = strictly one batch after another). Ops of one document
   * always stay in order whatever the value; a higher one keeps the target busy while the next
   * batch is prepared, at the cost of holding more batches in memory.
   * @defaultValue 3
   */
  maxBatchesInFlight?: number;
  /**
   * The rate limit and pause gate every write passes (shared with a full copy's writers, when
   * there is one): lanes cut their writes to fit it, DDL commands and transactions wait for it.
   * @defaultValue none: writes are neither limited nor pausable
   */
  throttle?: WriteThrottle;
}

/**
 * The defaults {@link HashedApplierPool} applies to omitted options.
 * @public
 */
export const hashedApplierPoolDefaults = Object.freeze({
  lanes: 16,
  uniqueConflictPolicy: 'fail' as UniqueConflictPolicy,
  bypassDocumentValidation: true,
  conflictPolicy: 'ignore' as ConflictPolicy,
  maxBatchesInFlight: 3
});

/**
 * {@link HashedApplierPoolOptions} with defaults applied and validated.
 * @public
 */
export interface ResolvedHashedApplierPoolOptions {
  /** See {@link HashedApplierPoolOptions.input}. */
  readonly input: BoundedQueue<ApplyBatch>;
  /** See {@link HashedApplierPoolOptions.target}. */
  readonly target: MongoClient;
  /** See {@link HashedApplierPoolOptions.lanes}. */
  readonly lanes: number;
  /** See {@link HashedApplierPoolOptions.conflictPolicy}. */
  readonly conflictPolicy: ConflictPolicy;
  /** See {@link HashedApplierPoolOptions.source}. */
  readonly source: MongoClient | undefined;
  /** See {@link HashedApplierPoolOptions.catchUpUntil}. */
  readonly catchUpUntil: Timestamp | undefined;
  /** See {@link HashedApplierPoolOptions.retry}. */
  readonly retry: StageRetryOptions;
  /** See {@link HashedApplierPoolOptions.writeConcern}. */
  readonly writeConcern: WriteConcern | WriteConcernSettings | undefined;
  /** See {@link HashedApplierPoolOptions.bypassDocumentValidation}. */
  readonly bypassDocumentValidation: boolean;
  /** See {@link HashedApplierPoolOptions.maxBatchesInFlight}. */
  readonly maxBatchesInFlight: number;
  /** See {@link HashedApplierPoolOptions.uniqueConflictPolicy}. */
  readonly uniqueConflictPolicy: UniqueConflictPolicy;
  /** See {@link HashedApplierPoolOptions.replayUntil}. */
  readonly replayUntil: Timestamp | undefined;
  /** See {@link HashedApplierPoolOptions.uniqueIndexes}. */
  readonly uniqueIndexes: UniqueGuardState;
  /** See {@link HashedApplierPoolOptions.onUniqueIndexes}. */
  readonly onUniqueIndexes: ((state: UniqueGuardState) => Promise<void>) | undefined;
  /** See {@link HashedApplierPoolOptions.beforeWrite}. */
  readonly beforeWrite: () => void;
  /** See {@link HashedApplierPoolOptions.throttle}. */
  readonly throttle: WriteThrottle | undefined;
}

/** The default of `beforeWrite`: every write may go ahead. */
const noWriteCheck = (): void => {};

const MAX_LANES = 1024;
const MAX_BATCHES_IN_FLIGHT = 64;
const POLICIES: readonly ConflictPolicy[] = ['ignore', 'upsert', 'fail'];
const UNIQUE_POLICIES: readonly UniqueConflictPolicy[] = ['fail', 'ignore'];

/**
 * Reads the pool's tunable options: what the Replicator's `applier` slice holds.
 * @throws {@link InvalidConfigError} naming the field
 * @internal
 */
export function readApplierSettings(
  reader: OptionReader
): Pick<
  ResolvedHashedApplierPoolOptions,
  | 'lanes'
  | 'conflictPolicy'
  | 'retry'
  | 'writeConcern'
  | 'maxBatchesInFlight'
  | 'bypassDocumentValidation'
  | 'uniqueConflictPolicy'
> {
  const d = hashedApplierPoolDefaults;
  return {
    uniqueConflictPolicy: reader.oneOf(
      'uniqueConflictPolicy',
      UNIQUE_POLICIES,
      d.uniqueConflictPolicy
    ),
    bypassDocumentValidation: reader.boolean(
      'bypassDocumentValidation',
      d.bypassDocumentValidation
    ),
    lanes: reader.integer('lanes', d.lanes, { max: MAX_LANES }),
    conflictPolicy: reader.oneOf('conflictPolicy', POLICIES, d.conflictPolicy),
    retry: readRetryOptions(reader.object('retry')),
    writeConcern: readWriteConcern(reader),
    maxBatchesInFlight: reader.integer('maxBatchesInFlight', d.maxBatchesInFlight, {
      max: MAX_BATCHES_IN_FLIGHT
    })
  };
}

/**
 * Validates `options` and applies {@link hashedApplierPoolDefaults}; no I/O.
 * @throws {@link InvalidConfigError} naming the first invalid option
 * @internal
 */
export function resolveHashedApplierPoolOptions(
  options: HashedApplierPoolOptions
): Readonly<ResolvedHashedApplierPoolOptions> {
  return readOptions(options, reader => {
    reader.signal();
    reader.logger();
    const input = reader.custom('input', (value, field) => {
      if (typeof (value as Partial<BoundedQueue<ApplyBatch>> | undefined)?.shift !== 'function') {
        throw new InvalidConfigError(field, 'expected a BoundedQueue of batches');
      }
      return value as BoundedQueue<ApplyBatch>;
    });
    const target = reader.client('target');
    const source = reader.optionalClient('source');
    const settings = readApplierSettings(reader);
    if (settings.conflictPolicy === 'upsert' && source === undefined) {
      reader.fail(
        'source',
        'is required when conflictPolicy is "upsert" (conflicting documents are re-read from it)'
      );
    }
    const onUniqueIndexes = reader.custom('onUniqueIndexes', (value, field) => {
      if (value !== undefined && typeof value !== 'function') {
        throw new InvalidConfigError(field, 'expected a function (state) => Promise<void>');
      }
      return value as ((state: UniqueGuardState) => Promise<void>) | undefined;
    });
    return Object.freeze({
      input,
      target,
      source,
      throttle: readThrottle(reader),
      catchUpUntil: reader.optionalTimestamp('catchUpUntil'),
      replayUntil: reader.optionalTimestamp('replayUntil'),
      uniqueIndexes: readGuardState(reader),
      onUniqueIndexes,
      beforeWrite: reader.func('beforeWrite', noWriteCheck),
      ...settings
    });
  });
}

/** The `uniqueIndexes` option: relaxed index refs and ordered namespaces, checked by shape. */
function readGuardState(reader: OptionReader): UniqueGuardState {
  return reader.custom('uniqueIndexes', (value, field) => {
    if (value === undefined) return { relaxedIndexes: [], orderedNamespaces: [] };
    const state = value as Partial<UniqueGuardState> | null;
    const refsOk =
      Array.isArray(state?.relaxedIndexes) &&
      state.relaxedIndexes.every(
        ref => typeof ref?.namespace === 'string' && typeof ref.name === 'string'
      );
    const orderedOk =
      Array.isArray(state?.orderedNamespaces) &&
      state.orderedNamespaces.every(ns => typeof ns === 'string');
    if (!refsOk || !orderedOk) {
      throw new InvalidConfigError(
        field,
        'expected {relaxedIndexes: [{namespace, name}], orderedNamespaces: [string]}'
      );
    }
    return state as UniqueGuardState;
  });
}
