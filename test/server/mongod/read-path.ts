/**
 * Reading documents for find, count, distinct and aggregate: collections, views (their pipeline
 * runs over the collection they read), and `local.oplog.rs` (seeked by `ts`, tailable).
 */
import { BSONRegExp, BSONSymbol, Timestamp } from 'bson';

import {
  type BDoc,
  type BValue,
  compareValuesBinary,
  currentCollation,
  isDoc
} from '../bson/values.js';
import { compileProjection, runPipeline } from '../engine/aggregate/pipeline.js';
import { compileFilter, type Matcher } from '../engine/query/matcher.js';
import { compileSort } from '../engine/query/sort.js';
import { plannerError, ServerError } from '../engine/server-error.js';
import { ArraySource, type CursorSource } from './cursors.js';
import { hintedIndex, naturalDirection } from './hint.js';
import { boundedScan, type IndexBounds } from './min-max.js';
import { type Mongod } from './mongod.js';
import { type Oplog } from './oplog.js';

export const OPLOG_NS = 'local.oplog.rs';

/** The find options that shape results. */
export interface FindSpec {
  readonly filter: BDoc;
  readonly sort?: BDoc | undefined;
  readonly projection?: BDoc | undefined;
  readonly skip?: number | undefined;
  readonly limit?: number | undefined;
  readonly hint?: BValue;
  readonly tailable?: boolean;
  /** find's `min`/`max` index bounds (see min-max.ts); empty documents already dropped. */
  readonly bounds?: IndexBounds | undefined;
  /** The command's `let` constants, for `$expr` and projection expressions. */
  readonly vars?: Map<string, BValue> | undefined;
}

/** Every document of a namespace in natural order (views evaluated), or [] when it is missing. */
export function namespaceDocs(mongod: Mongod, db: string, coll: string, depth = 0): BDoc[] {
  if (db === 'local' && coll === 'oplog.rs') return [...mongod.oplog.records()].map(r => r.doc);
  const collection = mongod.lookupCollection(db, coll);
  if (!collection) return [];
  if (collection.type !== 'view') return ownedDocs(mongod, collection.ns, collection.snapshot());
  if (depth > 20) throw new ServerError(2, 'View depth too deep or view cycle detected');
  const source = namespaceDocs(mongod, db, collection.options.get('viewOn') as string, depth + 1);
  return runPipeline(
    source,
    collection.options.get('pipeline') as BDoc[],
    pipelineContext(mongod, db)
  );
}

/** The documents this server owns, when a cluster's router filters orphans out. */
function ownedDocs(mongod: Mongod, ns: string, docs: BDoc[]): BDoc[] {
  const owns = mongod.routedFilter;
  return owns ? docs.filter(doc => owns(ns, doc)) : docs;
}

/** What the aggregation engine needs from the server. */
export function pipelineContext(mongod: Mongod, db: string) {
  return { dbName: db, resolveCollection: (coll: string) => namespaceDocs(mongod, db, coll) };
}

/** Refuses a hint naming an index the collection does not have, as mongod's planner does. */
export function checkHint(mongod: Mongod, db: string, coll: string, hint: BValue): void {
  if (hint === undefined || naturalDirection(hint) !== undefined) return;
  const collection = mongod.lookupCollection(db, coll);
  if (!collection) return;
  if (!hintedIndex(collection, hint)) {
    throw plannerError(
      2,
      `${db}.${coll}`,
      'hint provided does not correspond to an existing index'
    );
  }
}

/** Builds the cursor source of a `find`. */
export function findSource(mongod: Mongod, db: string, coll: string, spec: FindSpec): CursorSource {
  const bounds = spec.bounds?.min || spec.bounds?.max ? spec.bounds : undefined;
  // A bounded scan checks its hint itself, in mongod's order (a view fails before its hint).
  if (!bounds) checkHint(mongod, db, coll, spec.hint);
  const matcher = compileFilter(spec.filter, spec.vars);
  const project =
    spec.projection && spec.projection.size > 0
      ? compileProjection(spec.projection, 'find', spec.vars ? { vars: spec.vars } : {})
      : undefined;
  const isOplog = db === 'local' && coll === 'oplog.rs';
  if (spec.tailable) {
    if (!isOplog) {
      const collection = mongod.lookupCollection(db, coll);
      if (!collection?.capped) {
        throw new ServerError(
          2,
          `error processing query: ns=${db}.${coll} tailable cursor requested on non capped collection`
        );
      }
      throw new ServerError(
        238,
        'tailable cursors on capped collections other than local.oplog.rs are not supported by the mongo-replicate test server'
      );
    }
    if (spec.sort && spec.sort.size > 0 && naturalDirection(spec.sort) !== 1) {
      throw new ServerError(
        2,
        'error processing query: tailable cursor requested with a sort other than $natural: 1'
      );
    }
    return new OplogTailSource(mongod.oplog, matcher, project, seekTimestamp(spec.filter));
  }
  let docs: BDoc[];
  const natural = bounds ? undefined : (naturalDirection(spec.sort) ?? naturalDirection(spec.hint));
  if (bounds) {
    docs = ownedDocs(mongod, `${db}.${coll}`, boundedScan(mongod, db, coll, spec.hint, bounds));
  } else if (isOplog) {
    const start = seekTimestamp(spec.filter);
    const from = start ? mongod.oplog.lowerBound(start) : 0;
    docs = [...mongod.oplog.records(from)].map(r => r.doc);
  } else {
    docs =
      (natural === undefined && spec.hint === undefined
        ? idLookup(mongod, db, coll, spec.filter)
        : undefined) ?? namespaceDocs(mongod, db, coll);
  }
  const matched: { doc: BDoc; position: number | undefined }[] = [];
  for (const doc of docs) {
    const result = matcher.matchPosition(doc);
    if (result.matched) matched.push({ doc, position: result.arrayIndex });
  }
  if (natural === -1 && (!spec.sort || naturalDirection(spec.sort) !== undefined))
    matched.reverse();
  if (spec.sort && spec.sort.size > 0 && naturalDirection(spec.sort) === undefined) {
    const compare = compileSort(spec.sort);
    matched.sort((a, b) => compare(a.doc, b.doc));
  }
  const skip = spec.skip ?? 0;
  const limited = matched.slice(skip, spec.limit && spec.limit > 0 ? skip + spec.limit : undefined);
  const out = project ? limited.map(m => project(m.doc, m.position)) : limited.map(m => m.doc);
  return new ArraySource(out);
}

/**
 * The candidates of a filter on `_id` alone (`{_id: v}` or `{_id: {$in: [...]}}` of plain values),
 * found through the `_id` index as mongod does (so in `_id` order), instead of scanning the
 * collection: replication reads documents by `_id` in batches. Undefined when the filter is
 * anything else; the matcher still checks every candidate.
 */
function idLookup(mongod: Mongod, db: string, coll: string, filter: BDoc): BDoc[] | undefined {
  if (filter.size !== 1) return undefined;
  const condition = filter.get('_id');
  let ids: BValue[];
  if (isDoc(condition)) {
    const values = condition.get('$in');
    if (condition.size !== 1 || !Array.isArray(values)) return undefined;
    ids = values;
  } else {
    ids = [condition];
  }
  if (!ids.every(isPlainId)) return undefined;
  // Under a collation a string `_id` may match one that is equal but not identical.
  if (currentCollation() && ids.some(id => typeof id === 'string' || id instanceof BSONSymbol)) {
    return undefined;
  }
  const collection = mongod.lookupCollection(db, coll);
  if (!collection || collection.type === 'view') return undefined;
  const found = new Map<BDoc, true>();
  for (const id of ids) {
    const doc = collection.get(id);
    if (doc && (!mongod.routedFilter || mongod.routedFilter(collection.ns, doc)))
      found.set(doc, true);
  }
  return [...found.keys()].sort((a, b) => compareValuesBinary(a.get('_id'), b.get('_id')));
}

/** An `_id` value that equality on the `_id` index decides (not a document, array, regex or null). */
function isPlainId(value: BValue): boolean {
  return (
    value !== null &&
    value !== undefined &&
    !isDoc(value) &&
    !Array.isArray(value) &&
    !(value instanceof BSONRegExp)
  );
}

/** The lower bound of `ts` a filter implies (`$gte`, `$gt`, `$eq` or a plain Timestamp). */
export function seekTimestamp(filter: BDoc): Timestamp | undefined {
  const ts = filter.get('ts');
  if (ts instanceof Timestamp) return ts;
  if (!isDoc(ts)) return undefined;
  for (const op of ['$gte', '$gt', '$eq']) {
    const bound = ts.get(op);
    if (bound instanceof Timestamp) return bound;
  }
  return undefined;
}

/**
 * A tailable cursor on the oplog. It remembers the last record it examined; if truncation removes
 * that record before the next getMore, the cursor has lost its place (CappedPositionLost, 136).
 */
export class OplogTailSource implements CursorSource {
  #last: number | undefined;
  #startIndex: number;

  constructor(
    private readonly oplog: Oplog,
    private readonly matcher: Matcher,
    private readonly project: ((doc: BDoc, position?: number) => BDoc) | undefined,
    start: Timestamp | undefined
  ) {
    this.#startIndex = start ? oplog.lowerBound(start) : 0;
  }

  next(limit: number): { docs: BDoc[]; exhausted: boolean } {
    if (this.#last !== undefined && !this.oplog.contains(this.#last)) {
      throw new ServerError(
        136,
        `Executor error during getMore :: caused by :: CollectionScan died due to position in capped collection being deleted. Last seen record id: RecordId(${this.#last})`
      );
    }
    const from = this.#last === undefined ? this.#startIndex : this.oplog.indexAfter(this.#last);
    const docs: BDoc[] = [];
    for (const record of this.oplog.records(from)) {
      this.#last = record.recordId;
      if (this.matcher.matches(record.doc)) {
        docs.push(this.project ? this.project(record.doc) : record.doc);
        if (docs.length >= limit) break;
      }
    }
    return { docs, exhausted: false };
  }

  onReadable(listener: () => void): () => void {
    return this.oplog.onAppend(listener);
  }
}
