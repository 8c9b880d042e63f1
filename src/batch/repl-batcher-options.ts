/**
 * Options of {@link ReplBatcher}: the limits that decide when a batch is flushed, their frozen
 * defaults, and the validation that runs in the constructor (before any I/O).
 */
import { type Timestamp } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type BoundedQueue } from '../lifecycle/bounded-queue.js';
import { type StageOptions } from '../lifecycle/stage.js';
import { NamespaceFilter } from '../namespace/namespace-filter.js';
import { type OptionReader, readOptions } from '../options/option-reader.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';

/**
 * How {@link ReplBatcher} hands source transactions to the applier:
 * - `'flatten'`: a transaction's writes join an ordinary CRUD batch (kept whole in one batch)
 *   and are applied by the lanes in parallel; a reader of the target may briefly see part of a
 *   transaction.
 * - `'preserve'`: each transaction travels as its own {@link TxnBatch}, applied in one target
 *   transaction after every earlier batch, so a reader sees all of it or none. Slower: one batch
 *   (and one round of commits) per source transaction.
 * @public
 */
export type TransactionMode = 'flatten' | 'preserve';

/**
 * Options for {@link ReplBatcher}. Only `input` is required; every limit is optional.
 * @public
 */
export interface ReplBatcherOptions extends StageOptions {
  /**
   * The fetcher's output: oplog entries in oplog order. The batcher closes it on `stop()` (take no
   * new input) and ends once it is closed and drained.
   */
  input: BoundedQueue<FetchedEntry>;
  /**
   * Which namespaces to replicate and under which target names. Filtered operations are counted
   * in each batch's `skipped`, never dropped silently.
   * @defaultValue a filter with no rules (every non-system namespace, names unchanged)
   */
  filter?: NamespaceFilter;
  /**
   * Flush once a batch holds this many operations. A transaction is never split, so a batch that
   * holds one may exceed it.
   * @defaultValue 5_000
   */
  maxOps?: number;
  /**
   * Flush once a batch holds this many BSON bytes of operations; an operation that would cross it
   * starts the next batch instead (a single larger operation or transaction still travels, alone).
   * @defaultValue 16 MiB
   */
  maxBytes?: number;
  /**
   * Flush a partial batch this many milliseconds after the first entry it covers, so a quiet
   * stream is applied (and checkpointed) promptly instead of waiting for more input.
   * @defaultValue 50
   */
  maxFillMs?: number;
  /**
   * Batches held in {@link ReplBatcher.output} before the batcher waits for the applier
   * (backpressure).
   * @defaultValue 4
   */
  outputMaxBatches?: number;
  /**
   * The optime the input starts after: the checkpoint the fetcher resumed from. Used as the
   * checkpoint only while a transaction that began with the very first input entry is still being
   * assembled (no earlier entry is known then).
   * @defaultValue one increment before that first entry's optime
   */
  resumeOptime?: Timestamp;
  /**
   * Whether a source transaction is applied as one target transaction (`'preserve'`) or with
   * the other writes (`'flatten'`); see {@link TransactionMode}.
   * @defaultValue `'flatten'`
   */
  transactions?: TransactionMode;
  /**
   * Replay the source's `shardCollection` (the no-op entry a primary shard logs for it) as a
   * `shardCollection` DDL batch: for a sharded target that mirrors the source's sharding.
   * @defaultValue false
   */
  shardCollections?: boolean;
}

/**
 * The defaults {@link ReplBatcher} applies to omitted options.
 * @public
 */
export const replBatcherDefaults = Object.freeze({
  maxOps: 5_000,
  maxBytes: 16 * 1024 * 1024,
  maxFillMs: 50,
  outputMaxBatches: 4,
  transactions: 'flatten' as TransactionMode
});

/**
 * {@link ReplBatcherOptions} with every default applied and every value checked.
 * @public
 */
export interface ResolvedReplBatcherOptions {
  /** See {@link ReplBatcherOptions.input}. */
  readonly input: BoundedQueue<FetchedEntry>;
  /** See {@link ReplBatcherOptions.filter}. */
  readonly filter: NamespaceFilter;
  /** See {@link ReplBatcherOptions.maxOps}. */
  readonly maxOps: number;
  /** See {@link ReplBatcherOptions.maxBytes}. */
  readonly maxBytes: number;
  /** See {@link ReplBatcherOptions.maxFillMs}. */
  readonly maxFillMs: number;
  /** See {@link ReplBatcherOptions.outputMaxBatches}. */
  readonly outputMaxBatches: number;
  /** See {@link ReplBatcherOptions.resumeOptime}. */
  readonly resumeOptime: Timestamp | undefined;
  /** See {@link ReplBatcherOptions.transactions}. */
  readonly transactions: TransactionMode;
  /** See {@link ReplBatcherOptions.shardCollections}. */
  readonly shardCollections: boolean;
}

const TRANSACTION_MODES: readonly TransactionMode[] = ['flatten', 'preserve'];

/** setTimeout's largest delay; a longer one fires at once (with a warning), not later. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Reads the batcher's tunable limits: what the Replicator's `batcher` slice holds.
 * @throws {@link InvalidConfigError} naming the field
 * @internal
 */
export function readBatcherSettings(
  reader: OptionReader
): Pick<ResolvedReplBatcherOptions, 'maxOps' | 'maxBytes' | 'maxFillMs' | 'outputMaxBatches'> {
  const d = replBatcherDefaults;
  const maxFillMs = reader.number('maxFillMs', d.maxFillMs, { max: MAX_TIMER_MS });
  if (maxFillMs <= 0)
    reader.fail('maxFillMs', `expected a number of milliseconds > 0, got ${maxFillMs}`);
  return {
    maxOps: reader.integer('maxOps', d.maxOps),
    maxBytes: reader.integer('maxBytes', d.maxBytes),
    maxFillMs,
    outputMaxBatches: reader.integer('outputMaxBatches', d.outputMaxBatches)
  };
}

/**
 * Reads `transactions`: how source transactions are applied.
 * @internal
 */
export function readTransactionMode(reader: OptionReader): TransactionMode {
  return reader.oneOf('transactions', TRANSACTION_MODES, replBatcherDefaults.transactions);
}

/**
 * Applies the defaults and validates every option.
 * @throws {@link InvalidConfigError} naming the first invalid option.
 * @internal
 */
export function resolveReplBatcherOptions(
  options: ReplBatcherOptions
): Readonly<ResolvedReplBatcherOptions> {
  return readOptions(options, reader => {
    reader.signal();
    reader.logger();
    const input = reader.custom('input', (value, field) => {
      // Duck-typed: BoundedQueue is internal, and a second loaded copy would fail instanceof.
      const queue = value as Partial<BoundedQueue<FetchedEntry>> | null | undefined;
      if (typeof queue?.shift !== 'function' || typeof queue.tryShift !== 'function') {
        throw new InvalidConfigError(field, "expected the fetcher's output queue");
      }
      return value as BoundedQueue<FetchedEntry>;
    });
    const filter = reader.custom('filter', (value, field) => {
      if (value === undefined) return new NamespaceFilter();
      if (!(value instanceof NamespaceFilter)) {
        throw new InvalidConfigError(field, 'expected a NamespaceFilter');
      }
      return value;
    });
    return Object.freeze({
      input,
      filter,
      ...readBatcherSettings(reader),
      resumeOptime: reader.optionalTimestamp('resumeOptime'),
      transactions: readTransactionMode(reader),
      shardCollections: reader.boolean('shardCollections', false)
    });
  });
}
