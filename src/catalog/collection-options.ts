/**
 * Collection options between `listCollections` (what the source reports) and `create` (what
 * the target accepts), and the test of whether an existing target collection was created with
 * options compatible with the source's.
 *
 * mongod's `create` takes every option `listCollections` reports (`capped`, `size`, `max`,
 * `autoIndexId`, `validator`, `validationLevel`, `validationAction`, `collation`, `timeseries`,
 * `expireAfterSeconds`, `clusteredIndex`, `changeStreamPreAndPostImages`, `storageEngine`,
 * `indexOptionDefaults`, `encryptedFields`, `viewOn`, `pipeline`), so options pass through
 * unchanged, in their order and BSON types, except the few listed in {@link NOT_CREATABLE}.
 */
import { type Document } from 'mongodb';

import { sameBsonValue } from '../bson/bson-equality.js';

/**
 * Options `listCollections` may report that a current `create` refuses or that must not be
 * copied: `temp` (set on a temporary collection mongod drops at restart), `flags` (MMAPv1) and
 * `recordPreImages` (removed in 6.0; `changeStreamPreAndPostImages` replaced it).
 */
const NOT_CREATABLE: ReadonlySet<string> = new Set(['temp', 'flags', 'recordPreImages']);

/**
 * The `create` command fields for a collection, and the source options left out.
 * @internal
 */
export interface CreateFields {
  /** The fields to put after `create: <name>`. */
  readonly fields: Document;
  /** Source options `create` does not take, by name (for a warning). */
  readonly dropped: readonly string[];
}

/**
 * The `create` command fields that recreate a collection with the source's `options` (and its
 * `idIndex`, whose `ns`, logged by 4.2 and older, would name the source).
 * @internal
 */
export function createFields(
  options: Readonly<Document>,
  idIndex?: Readonly<Document>
): CreateFields {
  const fields: Document = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(options)) {
    if (NOT_CREATABLE.has(name)) dropped.push(name);
    else fields[name] = value;
  }
  if (idIndex !== undefined) {
    const { ns: _ns, ...spec } = idIndex;
    fields.idIndex = spec;
  }
  return { fields, dropped };
}

/** An option's value with the server's defaults applied, so absent and default compare equal. */
type Normaliser = (options: Readonly<Document>) => unknown;

const isTrue = (value: unknown): boolean => value === true;

/** The collation minus its ICU `version`, which says which library expanded it. */
function collation(options: Readonly<Document>): unknown {
  const value: unknown = options.collation;
  if (value === null || typeof value !== 'object') return undefined;
  const { version: _version, ...rest } = value as Document;
  return rest.locale === 'simple' ? undefined : rest;
}

/** The fields that decide how a time-series collection stores and reads its data. */
function timeseries(options: Readonly<Document>): unknown {
  const value: unknown = options.timeseries;
  if (value === null || typeof value !== 'object') return undefined;
  const { timeField, metaField } = value as Document;
  return { timeField, metaField };
}

function clusteredKey(options: Readonly<Document>): unknown {
  const value: unknown = options.clusteredIndex;
  if (value === undefined) return undefined;
  // `clusteredIndex: true` is the legacy form for a cluster on `_id`.
  if (value === true) return { _id: 1 };
  return (value as Document | null)?.key;
}

function emptyIsAbsent(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return Object.keys(value).length === 0 ? undefined : value;
}

/**
 * The options that decide what a collection accepts, how it stores and orders its data, and
 * what it evicts: two collections that agree on these hold a copy the same way. Storage-engine
 * settings, index option defaults and `autoIndexId` do not change the data, so they are not
 * compared.
 */
const COMPARED: ReadonlyMap<string, Normaliser> = new Map<string, Normaliser>([
  ['capped', o => isTrue(o.capped)],
  ['size', o => (isTrue(o.capped) ? o.size : undefined)],
  ['max', o => (isTrue(o.capped) ? o.max : undefined)],
  ['validator', o => emptyIsAbsent(o.validator)],
  ['validationLevel', o => o.validationLevel ?? 'strict'],
  ['validationAction', o => o.validationAction ?? 'error'],
  ['collation', collation],
  ['timeseries', timeseries],
  ['clusteredIndex', clusteredKey],
  ['expireAfterSeconds', o => o.expireAfterSeconds],
  [
    'changeStreamPreAndPostImages',
    o => isTrue((o.changeStreamPreAndPostImages as Document | undefined)?.enabled)
  ],
  ['encryptedFields', o => o.encryptedFields],
  ['viewOn', o => o.viewOn],
  ['pipeline', o => o.pipeline]
]);

/**
 * The names of the options on which an existing target namespace differs from what the copy
 * would create (`'type'` first when one is a view, say, and the other a collection); empty when
 * the existing namespace can be used as it is.
 *
 * @param expected - The type and the options the copy would create (a view's `viewOn` already
 * renamed).
 * @param actual - The type and options the target's `listCollections` reports.
 * @internal
 */
export function optionDifferences(
  expected: { readonly type: string; readonly options: Readonly<Document> },
  actual: { readonly type: string; readonly options: Readonly<Document> }
): string[] {
  const differences: string[] = [];
  if (expected.type !== actual.type) differences.push('type');
  for (const [name, normalise] of COMPARED) {
    if (!sameBsonValue(normalise(expected.options), normalise(actual.options))) {
      differences.push(name);
    }
  }
  return differences;
}
