/**
 * Options of {@link ReplBatcher}: the limits that decide when a batch is flushed, their frozen
 * defaults, and the validation that runs in the constructor (before any I/O).
 */
import { type Timestamp } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type BoundedQueue } from '../lifecycle/bounded-queue.js';
import { type StageOptions } from '../lifecycle/stage.js';
import { NamespaceFilter } from '../namespace/namespace-filter.js';
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
}

const TRANSACTION_MODES: readonly TransactionMode[] = ['flatten', 'preserve'];

/** setTimeout's largest delay; a longer one fires at once (with a warning), not later. */
const MAX_TIMER_MS = 2_147_483_647;

function positiveInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidConfigError(field, `expected a positive integer, got ${String(value)}`);
  }
  return value;
}

function isTimestamp(value: unknown): value is Timestamp {
  // By brand, not instanceof: the host may load a second copy of `bson`.
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as { _bsontype?: unknown })._bsontype === 'Timestamp'
  );
}

/**
 * Applies the defaults and validates every option.
 * @throws {@link InvalidConfigError} naming the first invalid option.
 * @internal
 */
export function resolveReplBatcherOptions(
  options: ReplBatcherOptions
): Readonly<ResolvedReplBatcherOptions> {
  const { input, filter = new NamespaceFilter(), resumeOptime } = options;
  // Duck-typed: BoundedQueue is internal, and a second loaded copy would fail instanceof.
  if (
    input === null ||
    typeof input !== 'object' ||
    typeof (input as Partial<BoundedQueue<FetchedEntry>>).shift !== 'function' ||
    typeof (input as Partial<BoundedQueue<FetchedEntry>>).tryShift !== 'function'
  ) {
    throw new InvalidConfigError('input', "expected the fetcher's output queue");
  }
  if (!(filter instanceof NamespaceFilter)) {
    throw new InvalidConfigError('filter', 'expected a NamespaceFilter');
  }
  const maxFillMs = options.maxFillMs ?? replBatcherDefaults.maxFillMs;
  if (!Number.isFinite(maxFillMs) || maxFillMs <= 0 || maxFillMs > MAX_TIMER_MS) {
    throw new InvalidConfigError(
      'maxFillMs',
      `expected a number of milliseconds in (0, ${MAX_TIMER_MS}], got ${String(maxFillMs)}`
    );
  }
  if (resumeOptime !== undefined && !isTimestamp(resumeOptime)) {
    throw new InvalidConfigError('resumeOptime', 'expected a BSON Timestamp');
  }
  const transactions = options.transactions ?? replBatcherDefaults.transactions;
  if (!TRANSACTION_MODES.includes(transactions)) {
    throw new InvalidConfigError(
      'transactions',
      `expected "flatten" or "preserve", got ${JSON.stringify(String(transactions))}`
    );
  }
  return Object.freeze({
    input,
    filter,
    maxOps: positiveInteger('maxOps', options.maxOps ?? replBatcherDefaults.maxOps),
    maxBytes: positiveInteger('maxBytes', options.maxBytes ?? replBatcherDefaults.maxBytes),
    maxFillMs,
    outputMaxBatches: positiveInteger(
      'outputMaxBatches',
      options.outputMaxBatches ?? replBatcherDefaults.outputMaxBatches
    ),
    resumeOptime,
    transactions
  });
}
