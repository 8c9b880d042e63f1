/**
 * Document writes with their oplog entries, as mongod performs them: implicit collection creation,
 * `_id` first, unique indexes, document validation, capped eviction, one oplog entry per document
 * (or a batched `applyOps` for multi-deletes on 7.0), no entry for a no-op update.
 */
import { BSONRegExp, BSONSymbol, Int32, ObjectId } from 'bson';

import { bsonSize } from '../bson/codec.js';
import {
  type BDoc,
  type BValue,
  currentCollation,
  isDoc,
  keyOf,
  type StringCollation,
  valuesEqual,
  valuesIdentical,
  withCollation
} from '../bson/values.js';
import { compileFilter, type Matcher } from '../engine/query/matcher.js';
import { compileSort } from '../engine/query/sort.js';
import { ServerError } from '../engine/server-error.js';
import { applyUpdate, buildUpsertDocument } from '../engine/update/apply-update.js';
import { computeDiffV2, computeUpdateV1 } from '../engine/update/oplog-diff.js';
import { recordsImages } from './change-stream-images.js';
import { type Collection } from './collection.js';
import { type Mongod } from './mongod.js';
import { type RetryableWrite } from './oplog-entries.js';
import { validateWrite } from './validation.js';

const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** Who is writing: a retryable write's identity and the statement id of this operation. */
export interface WriteOrigin {
  readonly retryable?: RetryableWrite | undefined;
  readonly stmtId?: number | undefined;
  /** `bypassDocumentValidation: true` on the command. */
  readonly bypassValidation?: boolean | undefined;
}

/** One update statement (`update.updates[i]` or a findAndModify). */
export interface UpdateSpec {
  readonly q: BDoc;
  readonly u: BDoc | BDoc[];
  readonly upsert: boolean;
  readonly multi: boolean;
  readonly arrayFilters?: BDoc[] | undefined;
  readonly sort?: BDoc | undefined;
  /** Constants the filter's `$expr` may read (the command's `let`). */
  readonly filterVars?: Map<string, BValue> | undefined;
  /** Constants a pipeline update may read (`let` and the statement's `c`). */
  readonly updateVars?: Map<string, BValue> | undefined;
  /** The statement's collation (its own or the collection's default); binary when undefined. */
  readonly collation?: StringCollation | undefined;
}

export interface UpdateOutcome {
  n: number;
  nModified: number;
  upsertedId?: BValue;
  /** The last matched document before and after the change (for findAndModify). */
  before?: BDoc | undefined;
  after?: BDoc | undefined;
}

function retryableOf(origin: WriteOrigin) {
  return origin.retryable && origin.stmtId !== undefined
    ? { write: origin.retryable, stmtId: origin.stmtId }
    : undefined;
}

/** Puts `_id` first (generating an ObjectId when missing) and validates field names and size. */
export function prepareForInsert(doc: BDoc): BDoc {
  let out = doc;
  if (!doc.has('_id')) {
    out = new Map<string, BValue>([['_id', new ObjectId()]]);
    for (const [k, v] of doc) out.set(k, v);
  } else if (doc.keys().next().value !== '_id') {
    out = new Map<string, BValue>([['_id', doc.get('_id')]]);
    for (const [k, v] of doc) if (k !== '_id') out.set(k, v);
  }
  const id = out.get('_id');
  if (Array.isArray(id)) {
    throw new ServerError(2, `can't use an array for _id`);
  }
  if (id instanceof Map) {
    for (const key of id.keys()) {
      if (key.startsWith('$'))
        throw new ServerError(
          2,
          `_id fields may not contain '$'-prefixed fields: ${key} is not valid for storage.`
        );
    }
  }
  if (bsonSize(out) > MAX_DOCUMENT_BYTES) {
    throw new ServerError(
      10334,
      `object to insert too large. size in bytes: ${bsonSize(out)}, max size: ${MAX_DOCUMENT_BYTES}`,
      { codeName: 'BSONObjectTooLarge' }
    );
  }
  return out;
}

export class WritePath {
  constructor(private readonly mongod: Mongod) {}

  /** Inserts one document, creating the collection if needed. */
  insert(db: string, coll: string, raw: BDoc, origin: WriteOrigin): BDoc {
    const collection = this.mongod.ddl.ensureCollection(db, coll);
    const doc = prepareForInsert(raw);
    if (!origin.bypassValidation) this.#validate(collection, doc, undefined);
    collection.insert(doc);
    const documentKey = this.mongod.documentKeyOf?.(collection.ns, doc);
    this.mongod.log({
      op: 'i',
      ns: collection.ns,
      ui: collection.uuid,
      o: doc,
      // 5.3+ logs an insert's document key (a shard's: shard key fields and _id) as `o2`.
      o2: documentKey && this.mongod.profile.maxWireVersion >= 17 ? documentKey : undefined,
      retryable: retryableOf(origin)
    });
    if (!this.mongod.currentTransaction) collection.evictCapped();
    return doc;
  }

  /** Applies one update statement; returns the counts the `update` reply reports. */
  update(db: string, coll: string, spec: UpdateSpec, origin: WriteOrigin): UpdateOutcome {
    return withCollation(spec.collation, () => this.#update(db, coll, spec, origin));
  }

  #update(db: string, coll: string, spec: UpdateSpec, origin: WriteOrigin): UpdateOutcome {
    const collection = this.mongod.ddl.viewCheckedCollection(db, coll);
    const matcher = filterFor(spec.q, spec.filterVars);
    const now = new Date();
    const outcome: UpdateOutcome = { n: 0, nModified: 0 };
    const candidates = collection ? this.#candidates(collection, spec.q, spec.sort) : [];
    for (const doc of candidates) {
      const match = matcher.matchPosition(doc);
      if (!match.matched) continue;
      outcome.n++;
      const after = applyUpdate(doc, spec.u, {
        ...(spec.arrayFilters ? { arrayFilters: spec.arrayFilters } : {}),
        ...(match.arrayIndex !== undefined ? { matchPosition: match.arrayIndex } : {}),
        ...(spec.updateVars ? { vars: spec.updateVars } : {}),
        now
      });
      outcome.before = doc;
      outcome.after = doc;
      if (!valuesIdentical(doc, after)) {
        // A routed update may not move a document out of this shard's chunks (mongod's
        // WouldChangeOwningShard, which the router turns into a delete and an insert).
        if (this.mongod.routedFilter && !this.mongod.routedFilter(collection!.ns, after)) {
          throw new ServerError(283, 'This update would cause the doc to change owning shards', {
            codeName: 'WouldChangeOwningShard',
            extra: { preImage: doc, postImage: after, shouldUpsert: false }
          });
        }
        this.#replaceStored(collection!, doc, after, spec.u, origin);
        outcome.nModified++;
        outcome.after = after;
      }
      if (!spec.multi) break;
    }
    if (outcome.n === 0 && spec.upsert) {
      const seeded = buildUpsertDocument(spec.q, spec.u, {
        now,
        isUpsertInsert: true,
        ...(spec.arrayFilters ? { arrayFilters: spec.arrayFilters } : {}),
        ...(spec.updateVars ? { vars: spec.updateVars } : {})
      });
      const inserted = this.insert(db, coll, seeded, origin);
      outcome.upsertedId = inserted.get('_id');
      outcome.after = inserted;
      outcome.before = undefined;
    }
    return outcome;
  }

  /** Deletes the matching documents (`limit` 1 or 0 = all); returns how many. */
  delete(
    db: string,
    coll: string,
    q: BDoc,
    limit: number,
    origin: WriteOrigin,
    sort?: BDoc,
    filterVars?: Map<string, BValue>,
    collation?: StringCollation
  ): BDoc[] {
    return withCollation(collation, () =>
      this.#delete(db, coll, q, limit, origin, sort, filterVars)
    );
  }

  #delete(
    db: string,
    coll: string,
    q: BDoc,
    limit: number,
    origin: WriteOrigin,
    sort: BDoc | undefined,
    filterVars: Map<string, BValue> | undefined
  ): BDoc[] {
    const collection = this.mongod.ddl.viewCheckedCollection(db, coll);
    if (!collection) return [];
    const matcher = filterFor(q, filterVars);
    const deleted: BDoc[] = [];
    for (const doc of this.#candidates(collection, q, sort)) {
      if (!matcher.matches(doc)) continue;
      deleted.push(doc);
      if (limit === 1) break;
    }
    if (collection.capped && deleted.length > 0 && this.mongod.profile.maxWireVersion < 21) {
      // Before 7.0 mongod refused deletes from capped collections.
      throw new ServerError(20, `cannot remove from a capped collection: ${collection.ns}`);
    }
    for (const doc of deleted) collection.remove(doc);
    const batched =
      this.mongod.profile.batchedDeletes &&
      deleted.length > 1 &&
      !origin.retryable &&
      !this.mongod.currentTransaction;
    if (batched) {
      const ops = deleted.map(
        doc =>
          new Map<string, BValue>([
            ['op', 'd'],
            ['ns', collection.ns],
            ['ui', collection.uuid],
            ['o', this.#documentKey(collection, doc)]
          ])
      );
      this.mongod.log({
        op: 'c',
        ns: 'admin.$cmd',
        o: new Map<string, BValue>([['applyOps', ops]]),
        applyOpsImages: recordsImages(collection) ? deleted.map(pre => ({ pre })) : undefined
      });
    } else {
      for (const doc of deleted) {
        this.mongod.log({
          op: 'd',
          ns: collection.ns,
          ui: collection.uuid,
          o: this.#documentKey(collection, doc),
          retryable: retryableOf(origin),
          images: recordsImages(collection) ? { pre: doc } : undefined
        });
      }
    }
    return deleted;
  }

  #replaceStored(
    collection: Collection,
    before: BDoc,
    after: BDoc,
    update: BDoc | BDoc[],
    origin: WriteOrigin
  ): void {
    if (
      !valuesEqual(before.get('_id'), after.get('_id')) ||
      keyOf(before.get('_id')) !== keyOf(after.get('_id'))
    ) {
      throw new ServerError(
        66,
        `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${String(after.get('_id'))}`
      );
    }
    if (bsonSize(after) > MAX_DOCUMENT_BYTES) {
      throw new ServerError(
        17419,
        `Resulting document after update is larger than ${MAX_DOCUMENT_BYTES}`
      );
    }
    if (!origin.bypassValidation) this.#validate(collection, after, before);
    collection.replace(before, after);
    const o2 = this.#documentKey(collection, before);
    const isReplacement = !Array.isArray(update) && !isOperatorUpdate(update);
    let o: BDoc | null = null;
    if (!isReplacement) {
      o =
        this.mongod.profile.updateFormat === 'v2'
          ? computeDiffV2(before, after, { sizeLimited: Array.isArray(update) })
          : computeUpdateV1(before, after);
    }
    this.mongod.log({
      op: 'u',
      ns: collection.ns,
      ui: collection.uuid,
      o: o ?? after,
      o2,
      retryable: retryableOf(origin),
      images: recordsImages(collection) ? { pre: before, post: after } : undefined
    });
  }

  /** Documents to test against the filter: the `_id` fast path, else every document (sorted). */
  #candidates(collection: Collection, q: BDoc, sort: BDoc | undefined): BDoc[] {
    const owns = this.mongod.routedFilter;
    // At most one document has a given _id, so there is nothing to sort.
    if (exactIdFilter(q)) {
      const found = collection.get(q.get('_id'));
      return found && (!owns || owns(collection.ns, found)) ? [found] : [];
    }
    const docs = owns
      ? collection.snapshot().filter(doc => owns(collection.ns, doc))
      : collection.snapshot();
    if (!sort || sort.size === 0) return docs;
    return docs.sort(compileSort(sort));
  }

  /** `{_id}`, or on a sharded collection's shard `{<shard key fields>, _id}` (getDocumentKey). */
  #documentKey(collection: Collection, doc: BDoc): BDoc {
    return this.mongod.documentKeyOf?.(collection.ns, doc) ?? idOnly(doc);
  }

  #validate(collection: Collection, doc: BDoc, before: BDoc | undefined): void {
    // 4.4 reports a failed validation without errInfo; 5.0 added the explanation.
    validateWrite(collection, doc, before, this.mongod.profile.maxWireVersion >= 13);
  }
}

/**
 * `{_id: <scalar>}` as a filter: the candidate lookup already matched it exactly. Not a string
 * under a collation, which may find an `_id` that is equal but not identical.
 */
function exactIdFilter(q: BDoc): boolean {
  const id = q.get('_id');
  return (
    q.size === 1 &&
    id !== undefined &&
    !isDoc(id) &&
    !Array.isArray(id) &&
    !(id instanceof BSONRegExp) &&
    !(currentCollation() && (typeof id === 'string' || id instanceof BSONSymbol))
  );
}

const MATCH_ALL: Matcher = {
  matches: () => true,
  matchPosition: () => ({ matched: true })
};

/**
 * The matcher for a write's filter. Replication applies writes by `_id` one statement at a time,
 * so skip compiling the filter when the `_id` lookup alone decides the match.
 */
function filterFor(q: BDoc, vars: Map<string, BValue> | undefined): Matcher {
  return exactIdFilter(q) ? MATCH_ALL : compileFilter(q, vars);
}

/** True when an update document is in operator form (`{$set: ...}`), not a replacement. */
export function isOperatorUpdate(update: BDoc): boolean {
  const first = update.keys().next().value;
  return typeof first === 'string' && first.startsWith('$');
}

function idOnly(doc: BDoc): BDoc {
  return new Map<string, BValue>([['_id', doc.get('_id')]]);
}

/** `n` as the reply's int32. */
export function int(n: number): Int32 {
  return new Int32(n);
}
