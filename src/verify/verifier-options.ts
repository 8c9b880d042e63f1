/**
 * Options of the {@link Verifier}: what hosts fill in, the frozen defaults, and the validation
 * that runs in the constructor (before any I/O; a wrong value throws {@link InvalidConfigError}
 * naming the field).
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { InvalidConfigError, ReplicationError } from '../errors.js';
import { checkClient, checkOptionsObject, rejectUnknownKeys } from '../lifecycle/option-checks.js';
import { type Logger, silentLogger } from '../logger.js';
import { NamespaceFilter, type NamespaceFilterOptions } from '../namespace/namespace-filter.js';
import {
  type DocumentSplitterOptions,
  resolveDocumentSplitterOptions
} from '../split/document-splitter-options.js';

/**
 * Live sync: how a range that differs is read again once the target has caught up.
 * @public
 */
export interface RecheckOptions {
  /**
   * Resolves once the target has applied the source's writes up to `sourceOptime` (see
   * {@link caughtUpWith} for a running {@link Replicator}); rejects with `signal.reason` when
   * `signal` aborts.
   */
  caughtUp: (sourceOptime: Timestamp, signal: AbortSignal) => Promise<void>;
  /**
   * How many times one range is read again before its differences count.
   * @defaultValue 5
   */
  maxRechecks?: number;
}

/**
 * Options of the {@link Verifier}. Only `source` and `target` are required.
 * @public
 */
export interface VerifierOptions {
  /** A connected client of the source. The host connects and closes it; it is only read. */
  source: MongoClient;
  /** A connected client of the target. The host connects and closes it; it is only read. */
  target: MongoClient;
  /**
   * Which namespaces to compare and their target names, as given to the replication.
   * @defaultValue every non-system namespace, not renamed
   */
  filter?: NamespaceFilter | NamespaceFilterOptions;
  /**
   * How collections are cut into `_id` ranges, as the full copy cuts them.
   * @defaultValue the {@link DocumentSplitter}'s defaults
   */
  splitter?: Omit<DocumentSplitterOptions, 'source' | 'logger'>;
  /**
   * How many ranges are compared at once.
   * @defaultValue 4
   */
  concurrency?: number;
  /**
   * How many `_id`s of each kind of mismatch each namespace report keeps.
   * @defaultValue 10
   */
  sampleLimit?: number;
  /** Live sync: read mismatching ranges again once the target caught up. Off by default. */
  recheck?: RecheckOptions;
  /** Aborting stops the verification; `verify()` rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Where the verifier logs.
   * @defaultValue a logger that drops everything
   */
  logger?: Logger;
}

/**
 * The defaults {@link Verifier} applies to omitted options.
 * @public
 */
export const verifierDefaults = Object.freeze({
  concurrency: 4,
  sampleLimit: 10,
  maxRechecks: 5
});

/**
 * {@link VerifierOptions} with every default applied and every value checked.
 * @internal
 */
export interface ResolvedVerifierOptions {
  readonly source: MongoClient;
  readonly target: MongoClient;
  readonly filter: NamespaceFilter;
  /** The rename rules, when the filter was given as options (to find target-only namespaces). */
  readonly renameRules: Readonly<Record<string, string>>;
  readonly splitter: Omit<DocumentSplitterOptions, 'source' | 'logger'>;
  readonly concurrency: number;
  readonly sampleLimit: number;
  readonly recheck:
    | {
        readonly caughtUp: RecheckOptions['caughtUp'];
        readonly maxRechecks: number;
      }
    | undefined;
  readonly signal: AbortSignal | undefined;
  readonly logger: Logger;
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'source',
  'target',
  'filter',
  'splitter',
  'concurrency',
  'sampleLimit',
  'recheck',
  'signal',
  'logger'
]);
const RECHECK_KEYS: ReadonlySet<string> = new Set(['caughtUp', 'maxRechecks']);
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Applies {@link verifierDefaults} and validates every option. No I/O.
 * @throws {@link InvalidConfigError} naming the first invalid field
 * @internal
 */
export function resolveVerifierOptions(options: VerifierOptions): ResolvedVerifierOptions {
  checkOptionsObject(options, KNOWN_KEYS);
  checkClient('source', options.source);
  checkClient('target', options.target);
  const { filter, renameRules } = resolveFilter(options.filter);
  const splitter = options.splitter ?? {};
  checkSplitter(options.source, splitter);
  const signal: unknown = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidConfigError('signal', 'expected an AbortSignal');
  }
  return Object.freeze({
    source: options.source,
    target: options.target,
    filter,
    renameRules,
    splitter,
    concurrency: positiveInteger(
      'concurrency',
      options.concurrency ?? verifierDefaults.concurrency,
      1_000
    ),
    sampleLimit: nonNegativeInteger(
      'sampleLimit',
      options.sampleLimit ?? verifierDefaults.sampleLimit
    ),
    recheck: resolveRecheck(options.recheck),
    signal: options.signal,
    logger: resolveLogger(options.logger)
  });
}

function resolveFilter(filter: VerifierOptions['filter']): {
  filter: NamespaceFilter;
  renameRules: Readonly<Record<string, string>>;
} {
  if (filter === undefined) return { filter: new NamespaceFilter(), renameRules: {} };
  if (filter === null || typeof filter !== 'object') {
    throw new InvalidConfigError('filter', 'expected a NamespaceFilter or NamespaceFilterOptions');
  }
  // By shape, not instanceof, so a filter from another loaded copy of the package works.
  const candidate = filter as Partial<NamespaceFilter>;
  if (typeof candidate.map === 'function' && typeof candidate.acceptsDatabase === 'function') {
    return { filter: filter as NamespaceFilter, renameRules: {} };
  }
  const options = filter as NamespaceFilterOptions;
  return { filter: new NamespaceFilter(options), renameRules: options.rename ?? {} };
}

/** The splitter's own validation, with its fields named under `splitter.`. */
function checkSplitter(source: MongoClient, splitter: unknown): void {
  if (splitter === null || typeof splitter !== 'object') {
    throw new InvalidConfigError('splitter', 'expected an object');
  }
  for (const key of ['source', 'logger']) {
    if (key in splitter) {
      throw new InvalidConfigError(
        `splitter.${key}`,
        'set by the verifier; give it at the top level'
      );
    }
  }
  try {
    resolveDocumentSplitterOptions({ ...(splitter as DocumentSplitterOptions), source });
  } catch (error) {
    if (!(ReplicationError.is(error) && error instanceof InvalidConfigError)) throw error;
    const reason = error.message.replace(/^Invalid option "[^"]*": /, '');
    throw new InvalidConfigError(`splitter.${error.field}`, reason);
  }
}

function resolveRecheck(recheck: RecheckOptions | undefined): ResolvedVerifierOptions['recheck'] {
  if (recheck === undefined) return undefined;
  if (recheck === null || typeof recheck !== 'object') {
    throw new InvalidConfigError('recheck', 'expected an object with caughtUp');
  }
  rejectUnknownKeys(recheck, RECHECK_KEYS, 'recheck.');
  if (typeof recheck.caughtUp !== 'function') {
    throw new InvalidConfigError(
      'recheck.caughtUp',
      'expected a function (sourceOptime, signal) => Promise<void>'
    );
  }
  return Object.freeze({
    caughtUp: recheck.caughtUp,
    maxRechecks: positiveInteger(
      'recheck.maxRechecks',
      recheck.maxRechecks ?? verifierDefaults.maxRechecks,
      1_000
    )
  });
}

function resolveLogger(logger: unknown): Logger {
  const value = logger ?? silentLogger;
  if (
    value === null ||
    typeof value !== 'object' ||
    LOG_LEVELS.some(level => typeof (value as Partial<Logger>)[level] !== 'function')
  ) {
    throw new InvalidConfigError('logger', 'expected an object with debug, info, warn and error');
  }
  return value as Logger;
}

function positiveInteger(field: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidConfigError(
      field,
      `expected an integer from 1 to ${max}, got ${describe(value)}`
    );
  }
  return value;
}

function nonNegativeInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidConfigError(field, `expected an integer of 0 or more, got ${describe(value)}`);
  }
  return value;
}

/** A short, safe rendering of a bad value (never an object's contents). */
function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  return typeof value;
}
