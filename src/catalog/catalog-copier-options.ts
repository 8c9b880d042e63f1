/**
 * Options of the {@link CatalogCopier}: the interface hosts fill in, the frozen defaults, and
 * `resolveCatalogCopierOptions()`, which applies the defaults and checks every value before any
 * I/O (a wrong value throws {@link InvalidConfigError} naming the field).
 */
import { type MongoClient } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { checkClient, checkOptionsObject } from '../lifecycle/option-checks.js';
import { type Logger, silentLogger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type OnExistingTarget } from './target-plan.js';

/**
 * Options of the {@link CatalogCopier}.
 * @public
 */
export interface CatalogCopierOptions {
  /** A connected client of the source. The host connects and closes it; it is only read. */
  source: MongoClient;
  /** A connected client of the target. The host connects and closes it. */
  target: MongoClient;
  /** Which namespaces to copy and under which names. */
  filter: NamespaceFilter;
  /**
   * What to do when a target collection already exists and holds documents.
   * @defaultValue `'fail'`
   */
  onExistingTarget?: OnExistingTarget;
  /**
   * Where the copier logs (a view whose source is not copied, options the target cannot take).
   * @defaultValue a logger that drops everything
   */
  logger?: Logger;
}

/**
 * The defaults {@link CatalogCopier} applies to omitted options.
 * @public
 */
export const catalogCopierDefaults = Object.freeze({
  onExistingTarget: 'fail' as OnExistingTarget
});

/**
 * {@link CatalogCopierOptions} with every default applied and every value checked.
 * @public
 */
export interface ResolvedCatalogCopierOptions {
  /** See {@link CatalogCopierOptions.source}. */
  readonly source: MongoClient;
  /** See {@link CatalogCopierOptions.target}. */
  readonly target: MongoClient;
  /** See {@link CatalogCopierOptions.filter}. */
  readonly filter: NamespaceFilter;
  /** See {@link CatalogCopierOptions.onExistingTarget}. */
  readonly onExistingTarget: OnExistingTarget;
  /** See {@link CatalogCopierOptions.logger}. */
  readonly logger: Logger;
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'source',
  'target',
  'filter',
  'onExistingTarget',
  'logger'
]);
const POLICIES: ReadonlySet<unknown> = new Set<OnExistingTarget>(['fail', 'drop', 'append']);
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * Applies {@link catalogCopierDefaults} and validates every option. No I/O.
 *
 * @throws {@link InvalidConfigError} naming the first invalid field
 * @internal
 */
export function resolveCatalogCopierOptions(
  options: CatalogCopierOptions
): ResolvedCatalogCopierOptions {
  checkOptionsObject(options, KNOWN_KEYS);
  checkClient('source', options.source);
  checkClient('target', options.target);
  // Checked by shape, not instanceof, so a filter from another loaded copy of the package works.
  const filter: unknown = options.filter;
  if (
    filter === null ||
    typeof filter !== 'object' ||
    typeof (filter as Partial<NamespaceFilter>).map !== 'function' ||
    typeof (filter as Partial<NamespaceFilter>).acceptsDatabase !== 'function'
  ) {
    throw new InvalidConfigError('filter', 'expected a NamespaceFilter');
  }
  const onExistingTarget = options.onExistingTarget ?? catalogCopierDefaults.onExistingTarget;
  if (!POLICIES.has(onExistingTarget)) {
    throw new InvalidConfigError(
      'onExistingTarget',
      `expected 'fail', 'drop' or 'append', got ${describe(onExistingTarget)}`
    );
  }
  const logger: unknown = options.logger ?? silentLogger;
  if (
    logger === null ||
    typeof logger !== 'object' ||
    LOG_LEVELS.some(level => typeof (logger as Partial<Logger>)[level] !== 'function')
  ) {
    throw new InvalidConfigError('logger', 'expected an object with debug, info, warn and error');
  }
  return Object.freeze({
    source: options.source,
    target: options.target,
    filter: options.filter,
    onExistingTarget,
    logger: logger as Logger
  });
}

/** A short, safe rendering of a bad value (never an object's contents). */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  return typeof value;
}
