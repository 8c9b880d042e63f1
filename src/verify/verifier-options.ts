/**
 * Options of the {@link Verifier}: what hosts fill in, the frozen defaults, and the validation
 * that runs in the constructor (before any I/O; a wrong value throws {@link InvalidConfigError}
 * naming the field).
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { NamespaceFilter, type NamespaceFilterOptions } from '../namespace/namespace-filter.js';
import { type OptionReader, readOptions } from '../options/option-reader.js';
import {
  type DocumentSplitterOptions,
  readSplitterSettings
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

/**
 * Applies {@link verifierDefaults} and validates every option. No I/O.
 * @throws {@link InvalidConfigError} naming the first invalid field
 * @internal
 */
export function resolveVerifierOptions(options: VerifierOptions): ResolvedVerifierOptions {
  return readOptions(options, reader => {
    const source = reader.client('source');
    const target = reader.client('target');
    const { filter, renameRules } = resolveFilter(reader);
    const splitterReader = reader.object('splitter');
    readSplitterSettings(splitterReader);
    splitterReader.done();
    return Object.freeze({
      source,
      target,
      filter,
      renameRules,
      splitter: (options.splitter ?? {}) as Omit<DocumentSplitterOptions, 'source' | 'logger'>,
      concurrency: reader.integer('concurrency', verifierDefaults.concurrency, { max: 1_000 }),
      sampleLimit: reader.integer('sampleLimit', verifierDefaults.sampleLimit, { min: 0 }),
      recheck: resolveRecheck(reader),
      signal: reader.signal(),
      logger: reader.logger() ?? silentLogger
    });
  });
}

function resolveFilter(reader: OptionReader): {
  filter: NamespaceFilter;
  renameRules: Readonly<Record<string, string>>;
} {
  const filter = reader.raw('filter');
  if (filter === undefined) return { filter: new NamespaceFilter(), renameRules: {} };
  if (filter === null || typeof filter !== 'object') {
    reader.fail('filter', 'expected a NamespaceFilter or NamespaceFilterOptions');
  }
  // By shape, not instanceof, so a filter from another loaded copy of the package works.
  const candidate = filter as Partial<NamespaceFilter>;
  if (typeof candidate.map === 'function' && typeof candidate.acceptsDatabase === 'function') {
    return { filter: filter as NamespaceFilter, renameRules: {} };
  }
  const filterOptions = filter as NamespaceFilterOptions;
  return { filter: new NamespaceFilter(filterOptions), renameRules: filterOptions.rename ?? {} };
}

function resolveRecheck(parent: OptionReader): ResolvedVerifierOptions['recheck'] {
  if (!parent.has('recheck')) return undefined;
  return readOptions(
    parent.raw('recheck'),
    reader => {
      const caughtUp = reader.custom('caughtUp', (value, field) => {
        if (typeof value !== 'function') {
          throw new InvalidConfigError(
            field,
            'expected a function (sourceOptime, signal) => Promise<void>'
          );
        }
        return value as RecheckOptions['caughtUp'];
      });
      return Object.freeze({
        caughtUp,
        maxRechecks: reader.integer('maxRechecks', verifierDefaults.maxRechecks, { max: 1_000 })
      });
    },
    parent.field('recheck')
  );
}
