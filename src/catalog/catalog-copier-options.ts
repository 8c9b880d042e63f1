/**
 * Options of the {@link CatalogCopier}: the interface hosts fill in, the frozen defaults, and
 * `resolveCatalogCopierOptions()`, which applies the defaults and checks every value before any
 * I/O (a wrong value throws {@link InvalidConfigError} naming the field).
 */
import { type MongoClient } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type OptionReader, readOptions } from '../options/option-reader.js';
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
   * Build unique secondary indexes non-unique (*relaxed*): a copy of a live source reads each
   * document at another moment, so a value that moved between documents meanwhile can be on the
   * target twice until the catch-up applies the move. The replicator enforces them again once
   * the target is consistent (catalog/unique-indexes.ts).
   * @defaultValue false
   */
  relaxUniqueIndexes?: boolean;
  /**
   * Runs synchronously right before every write to the target. When it throws, the write is not
   * made and the copier fails with that error: the Replicator passes its lease check here, so a
   * replicator that lost its checkpoint's lease writes nothing more.
   * @defaultValue none
   */
  beforeWrite?: () => void;
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
  /** See {@link CatalogCopierOptions.relaxUniqueIndexes}. */
  readonly relaxUniqueIndexes: boolean;
  /** See {@link CatalogCopierOptions.beforeWrite}. */
  readonly beforeWrite: () => void;
  /** See {@link CatalogCopierOptions.logger}. */
  readonly logger: Logger;
}

const POLICIES: readonly OnExistingTarget[] = ['fail', 'drop', 'append'];

/**
 * Reads `onExistingTarget`, the policy for a target collection that already holds documents.
 * @internal
 */
export function readOnExistingTarget(reader: OptionReader): OnExistingTarget {
  return reader.oneOf('onExistingTarget', POLICIES, catalogCopierDefaults.onExistingTarget);
}

/**
 * Applies {@link catalogCopierDefaults} and validates every option. No I/O.
 *
 * @throws {@link InvalidConfigError} naming the first invalid field
 * @internal
 */
export function resolveCatalogCopierOptions(
  options: CatalogCopierOptions
): ResolvedCatalogCopierOptions {
  return readOptions(options, reader => {
    const source = reader.client('source');
    const target = reader.client('target');
    // Checked by shape, not instanceof, so a filter from another loaded copy of the package works.
    const filter = reader.custom('filter', (value, field) => {
      const candidate = value as Partial<NamespaceFilter> | null | undefined;
      if (typeof candidate?.map !== 'function' || typeof candidate.acceptsDatabase !== 'function') {
        throw new InvalidConfigError(field, 'expected a NamespaceFilter');
      }
      return value as NamespaceFilter;
    });
    return Object.freeze({
      source,
      target,
      filter,
      onExistingTarget: readOnExistingTarget(reader),
      relaxUniqueIndexes: reader.boolean('relaxUniqueIndexes', false),
      beforeWrite: reader.func('beforeWrite', () => {}),
      logger: reader.logger() ?? silentLogger
    });
  });
}
