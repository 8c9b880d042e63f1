/**
 * find's `min` and `max`: an index scan between explicit bounds, planned the way mongod's
 * `query_planner.cpp` plans it (4.4 to 7.0). The hinted index's key order decides everything:
 * `min` is inclusive, `max` exclusive, values compare in BSON order across types, a descending
 * key field reverses its comparison, and an omitted bound is MinKey/MaxKey at that end. So an
 * omitted `max` still excludes an index key equal to MaxKey, exactly as on mongod. Results come
 * in index order, each document once (a multikey document at its first key in range).
 *
 * Failures, in mongod's order: `min`/`max` on a view or time-series collection 168; a `$natural`
 * hint 291; a hint naming no index 2; no hint 51173; bounds whose fields are not exactly the
 * index's, in order, 51174; `min` not before `max` 51175. A hint on a clustered collection's
 * cluster key scans the collection by `_id` instead (6137400 for other fields, 6137401 when `min`
 * is not below `max`), and there an omitted `max` is unbounded.
 */
import { MaxKey, MinKey } from 'bson';

import {
  type BDoc,
  type BValue,
  compareValues,
  isDoc,
  isNumber,
  toNumber
} from '../bson/values.js';
import { notImplemented, plannerError, ServerError } from '../engine/server-error.js';
import { type Collection, type IdOrderEntry, type IndexState, indexValues } from './collection.js';
import { hintedIndex, naturalDirection } from './hint.js';
import { type Mongod } from './mongod.js';

/** find's `min` and `max`; an empty document counts as absent, as on mongod. */
export interface IndexBounds {
  readonly min: BDoc | undefined;
  readonly max: BDoc | undefined;
}

/** The parse-time rule (`validateFindCommandRequest`): both bounds name the same fields, in order. */
export function checkBoundFields(bounds: IndexBounds): void {
  const { min, max } = bounds;
  if (!min || !max) return;
  const minFields = [...min.keys()];
  const maxFields = [...max.keys()];
  if (minFields.length !== maxFields.length || minFields.some((f, i) => f !== maxFields[i])) {
    throw new ServerError(51176, 'min and max must have the same field names');
  }
}

/**
 * The documents of `db.coll` between the bounds, in the hinted index's order; the caller then
 * applies the filter, sort, skip, limit and projection as for any find.
 */
export function boundedScan(
  mongod: Mongod,
  db: string,
  coll: string,
  hint: BValue,
  bounds: IndexBounds
): BDoc[] {
  const ns = `${db}.${coll}`;
  const isOplog = db === 'local' && coll === 'oplog.rs';
  const collection = isOplog ? undefined : mongod.lookupCollection(db, coll);
  // mongod plans nothing for a missing collection: the find is simply empty.
  if (!isOplog && !collection) return [];
  if (collection && collection.type !== 'collection') {
    // A find on a view runs as an aggregation, which has no min/max.
    const option = bounds.min ? 'min' : 'max';
    throw new ServerError(168, `Option ${option} not supported in aggregation.`);
  }
  const hinted = hint !== undefined && !(isDoc(hint) && hint.size === 0);
  if (hinted && naturalDirection(hint) !== undefined) {
    throw plannerError(291, ns, 'min and max are incompatible with $natural');
  }
  // The oplog has no indexes at all, so any index hint on it names nothing.
  const index = hinted && collection ? hintedIndex(collection, hint) : undefined;
  if (collection && index && isClusterKey(collection, index)) {
    return clusteredScan(collection, ns, bounds);
  }
  if (hinted && !index) {
    throw plannerError(2, ns, 'hint provided does not correspond to an existing index');
  }
  if (!index || !collection) {
    throw plannerError(
      51173,
      ns,
      'When using min()/max() a hint of which index to use must be provided'
    );
  }
  const pattern = index.spec.get('key') as BDoc;
  const fields = [...pattern.keys()];
  const wildcard = fields.some(f => f === '$**' || f.endsWith('.$**'));
  if (wildcard || !namesFields(bounds.min, fields) || !namesFields(bounds.max, fields)) {
    throw plannerError(51174, ns, 'The index chosen is not compatible with min/max');
  }
  const special = [...pattern.values()].find(v => typeof v === 'string');
  if (special !== undefined) throw notImplemented(`find min/max on a '${String(special)}' index`);
  const directions = [...pattern.values()].map(v => (isNumber(v) && toNumber(v) < 0 ? -1 : 1));
  const low = finish(bounds.min, directions, 'min');
  const high = finish(bounds.max, directions, 'max');
  if (compareKeys(low, high, directions) >= 0) {
    throw plannerError(
      51175,
      ns,
      'The value provided for min() does not come before the value provided for max() in the hinted index'
    );
  }
  if (isPlainIdIndex(index, directions)) {
    const order = collection.idOrder();
    return documentsAt(collection, order, lowerBound(order, low[0]), lowerBound(order, high[0]));
  }
  return indexScan(collection, index, directions, low, high);
}

/** A clustered collection is stored in `_id` order: bounds become a bounded collection scan. */
function clusteredScan(collection: Collection, ns: string, bounds: IndexBounds): BDoc[] {
  for (const bound of [bounds.min, bounds.max]) {
    if (bound && !(bound.size === 1 && bound.has('_id'))) {
      throw plannerError(
        6137400,
        ns,
        'The clustered index is not compatible with the values provided for min/max due to the query collation'
      );
    }
  }
  if (bounds.min && bounds.max && compareValues(bounds.min, bounds.max) >= 0) {
    throw plannerError(6137401, ns, 'max() must be greater than min()');
  }
  const order = collection.idOrder();
  const from = bounds.min ? lowerBound(order, bounds.min.get('_id')) : 0;
  const to = bounds.max ? lowerBound(order, bounds.max.get('_id')) : order.length;
  return documentsAt(collection, order, from, to);
}

/** The index a clustered collection is stored by (its `_id`), which is not a separate tree. */
function isClusterKey(collection: Collection, index: IndexState): boolean {
  return (
    collection.options.has('clusteredIndex') &&
    index.keyPaths.length === 1 &&
    index.keyPaths[0] === '_id' &&
    index.partial === undefined
  );
}

function namesFields(bound: BDoc | undefined, fields: readonly string[]): boolean {
  if (!bound) return true;
  const names = [...bound.keys()];
  return names.length === fields.length && names.every((name, i) => name === fields[i]);
}

/** `finishMinObj`/`finishMaxObj`: a bound's values, or MinKey/MaxKey at that end of the index. */
function finish(bound: BDoc | undefined, directions: readonly number[], side: 'min' | 'max') {
  if (bound) return [...bound.values()];
  return directions.map(d => (d > 0 === (side === 'min') ? new MinKey() : new MaxKey()));
}

/** The `_id` index itself (or an equivalent): one key per document, its `_id`. */
function isPlainIdIndex(index: IndexState, directions: readonly number[]): boolean {
  return (
    index.keyPaths.length === 1 &&
    index.keyPaths[0] === '_id' &&
    directions[0] === 1 &&
    !index.sparse &&
    index.partial === undefined
  );
}

/** The first position whose `_id` is not below `value`. */
function lowerBound(order: readonly IdOrderEntry[], value: BValue): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareValues(order[mid]!.id, value) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function documentsAt(
  collection: Collection,
  order: readonly IdOrderEntry[],
  from: number,
  to: number
): BDoc[] {
  const docs: BDoc[] = [];
  for (let i = from; i < to; i++) docs.push(collection.records.get(order[i]!.key)!);
  return docs;
}

/** Any other index: every document's keys, the first one in range places it. */
function indexScan(
  collection: Collection,
  index: IndexState,
  directions: readonly number[],
  low: readonly BValue[],
  high: readonly BValue[]
): BDoc[] {
  const placed: { doc: BDoc; key: readonly BValue[]; seq: number }[] = [];
  for (const doc of collection.records.values()) {
    let first: readonly BValue[] | undefined;
    for (const key of indexKeys(index, doc)) {
      if (compareKeys(key, low, directions) < 0 || compareKeys(key, high, directions) >= 0)
        continue;
      if (!first || compareKeys(key, first, directions) < 0) first = key;
    }
    if (first) placed.push({ doc, key: first, seq: placed.length });
  }
  // Equal keys keep natural order, standing in for mongod's RecordId order.
  placed.sort((a, b) => compareKeys(a.key, b.key, directions) || a.seq - b.seq);
  return placed.map(p => p.doc);
}

/** The key tuples a document has in the index: none if sparse/partial leaves it out. */
function indexKeys(index: IndexState, doc: BDoc): BValue[][] {
  if (index.partial && !index.partial.matches(doc)) return [];
  const perField = index.keyPaths.map(path => indexValues(doc, path));
  if (index.sparse && perField.every(field => field.missing)) return [];
  let keys: BValue[][] = [[]];
  for (const { values } of perField) {
    keys = keys.flatMap(prefix => values.map(value => [...prefix, value]));
  }
  return keys;
}

/** `BSONObj::woCompare` with the key pattern's ordering, field names ignored. */
function compareKeys(
  a: readonly BValue[],
  b: readonly BValue[],
  directions: readonly number[]
): number {
  for (let i = 0; i < directions.length; i++) {
    const c = compareKeyValue(a[i], b[i]);
    if (c !== 0) return c * directions[i]!;
  }
  return 0;
}

/** BSON order, plus the key of an empty array (`undefined`), which sits between MinKey and null. */
function compareKeyValue(a: BValue, b: BValue): number {
  if (a !== undefined && b !== undefined) return compareValues(a, b);
  if (a === b) return 0;
  const other = a === undefined ? b : a;
  const sign = a === undefined ? -1 : 1;
  return other instanceof MinKey ? -sign : sign;
}
