/**
 * Comparing what the catalog copier copies: collection options (or a view's definition) and
 * index specs, normalised exactly as the copier writes them, so that a faithful copy compares
 * equal and anything the copier would have done differently does not.
 */
import { type Document } from 'mongodb';

import { sameBsonValue } from '../bson/bson-equality.js';
import { optionDifferences } from '../catalog/collection-options.js';
import { indexSpecsToCreate } from '../catalog/index-specs.js';
import { type IndexesComparison, type OptionsComparison } from './verification-report.js';

/**
 * A namespace's kind and options on one side: for the source, what the copier would create (a
 * view's `viewOn` already renamed); for the target, what `listCollections` reports.
 * @internal
 */
export interface CatalogShape {
  /** `collection`, `timeseries` or `view`. */
  readonly type: string;
  readonly options: Readonly<Document>;
}

/**
 * A collection's indexes on one side, with the default collation they were created under.
 * @internal
 */
export interface IndexSet {
  readonly indexes: readonly Readonly<Document>[];
  readonly collation: unknown;
}

/**
 * Options (and kind) of the two sides; `exists` when only one side has the namespace.
 * @internal
 */
export function compareOptions(
  expected: CatalogShape | undefined,
  actual: CatalogShape | undefined
): OptionsComparison {
  if (expected === undefined && actual === undefined) return { equal: true, differences: [] };
  if (expected === undefined || actual === undefined) {
    return { equal: false, differences: ['exists'] };
  }
  const differences = optionDifferences(expected, actual);
  return { equal: differences.length === 0, differences };
}

/** The specs the copier would send, by index name. */
function specsByName(side: IndexSet | undefined): Map<string, Document> {
  if (side === undefined) return new Map();
  return new Map(
    indexSpecsToCreate(side.indexes, side.collation).map(spec => [String(spec.name), spec])
  );
}

/** Top-level fields in any order (servers list them in their own order); values exactly. */
function sameSpec(a: Document, b: Document): boolean {
  const fields = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const field of fields) if (!sameBsonValue(a[field], b[field])) return false;
  return true;
}

/**
 * Indexes of the two sides by name, each normalised as the copier writes it (no `ns`,
 * `background` or `dropDups`; the `_id` index and a cluster key left out; a simple collation made
 * explicit on a collection with a default collation). Numbers compare by value, field order
 * counts inside values (key patterns).
 * @internal
 */
export function compareIndexes(
  source: IndexSet | undefined,
  target: IndexSet | undefined
): IndexesComparison {
  const expected = specsByName(source);
  const actual = specsByName(target);
  const missing: string[] = [];
  const different: string[] = [];
  for (const [name, spec] of expected) {
    const found = actual.get(name);
    if (found === undefined) missing.push(name);
    else if (!sameSpec(spec, found)) different.push(name);
  }
  const extra = [...actual.keys()].filter(name => !expected.has(name));
  return {
    equal: missing.length === 0 && extra.length === 0 && different.length === 0,
    missing,
    extra,
    different
  };
}
