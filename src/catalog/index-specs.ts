/**
 * Index specs between `listIndexes` (source) and `createIndexes` (target). Every option is kept
 * with its BSON type (`unique`, `sparse`, `partialFilterExpression`, `expireAfterSeconds`,
 * `collation`, `hidden`, text `weights`/`default_language`/`language_override`/
 * `textIndexVersion`, `2dsphereIndexVersion`, `bits`/`min`/`max`, `wildcardProjection`,
 * `storageEngine`, `prepareUnique`, and the index version `v`), and a text index keeps its
 * stored key form (`{_fts: 'text', _ftsx: 1}`), which `createIndexes` accepts as it is.
 */
import { type Document } from 'mongodb';

/**
 * Fields `listIndexes` may report that carry nothing to recreate: `ns` (4.2 and older; it would
 * name the source namespace), and `background` and `dropDups`, which mongod ignores.
 */
const NOT_COPIED: ReadonlySet<string> = new Set(['ns', 'background', 'dropDups']);

/**
 * True for the index every collection gets by itself: `_id_`, or the cluster key of a clustered
 * collection (which may carry another name).
 * @internal
 */
export function isBuiltInIndex(spec: Readonly<Document>): boolean {
  return spec.name === '_id_' || spec.clustered === true;
}

/**
 * The specs to send to `createIndexes` on the target: every index of the source except the
 * built-in one, minus the fields in {@link NOT_COPIED}.
 *
 * @remarks
 * On a collection with a default collation, mongod gives a (v2) index created without a
 * `collation` the collection's, and stores an explicit `{locale: 'simple'}` as no `collation`
 * at all. A listed spec without `collation` on such a collection is therefore a simple-collation
 * index, and is sent with `collation: {locale: 'simple'}` so the target does not make it
 * inherit the default (text and 2d indexes even require that).
 *
 * @param indexes - The source's `listIndexes` specs.
 * @param defaultCollation - The collection's `collation` option, if it has one.
 * @internal
 */
export function indexSpecsToCreate(
  indexes: readonly Readonly<Document>[],
  defaultCollation: unknown
): Document[] {
  const inherits = hasNonSimpleCollation(defaultCollation);
  const specs: Document[] = [];
  for (const index of indexes) {
    if (isBuiltInIndex(index)) continue;
    const spec: Document = {};
    for (const [field, value] of Object.entries(index)) {
      if (!NOT_COPIED.has(field)) spec[field] = value;
    }
    if (inherits && spec.collation === undefined && indexVersion(spec) >= 2) {
      spec.collation = { locale: 'simple' };
    }
    specs.push(spec);
  }
  return specs;
}

function hasNonSimpleCollation(collation: unknown): boolean {
  if (collation === null || typeof collation !== 'object') return false;
  return (collation as Document).locale !== 'simple';
}

/** The spec's `v` (a number, or an Int32, Double or Long when read with exact types), 2 when absent. */
function indexVersion(spec: Readonly<Document>): number {
  const v: unknown = spec.v;
  if (v === undefined) return 2;
  if (typeof v === 'number') return v;
  if (v !== null && typeof v === 'object') {
    const numeric = v as { toNumber?: () => number; valueOf(): unknown };
    return typeof numeric.toNumber === 'function' ? numeric.toNumber() : Number(numeric.valueOf());
  }
  return Number.NaN;
}
