/**
 * DocumentSplitter: cuts one source collection into contiguous `_id` ranges, so the full copy can
 * read it with several cursors in parallel. Every document falls in exactly one range whatever
 * the mix of `_id` types, because ranges bound the `_id` index scan (see {@link rangeFindOptions}).
 *
 * How: the collection's estimated count gives the number of ranges k (at most
 * `maxRangesPerCollection`, each of at least `minDocumentsPerRange` documents); a sample of
 * k × `samplesPerRange` `_id`s, sorted by the server in `_id` index order, gives k - 1 quantile
 * split points. Points MongoDB compares equal (1, 1.0, Long 1) collapse into one, so no range is
 * empty; `_id`s are decoded with `promoteValues: false`, so a bound keeps its exact BSON type.
 *
 * Why `$sample`: on WiredTiger a sample smaller than 5 % of the collection is read through a
 * random cursor, touching about as many documents as it returns. `$bucketAuto` on `_id` (or
 * `splitVector`) would scan the whole collection or index before the copy even starts; a sample's
 * quantiles are only estimates, but uneven ranges cost some parallelism, never correctness.
 *
 * One unbounded range instead: views and time-series collections (no `_id` index to bound),
 * collections without a simple-collation `_id` index, collections too small to cut, empty or
 * missing ones, and collections holding a MaxKey `_id`. mongod's `max` is exclusive and an
 * omitted `max` means MaxKey, so no bounded last range can return that document.
 */
import { EventEmitter } from 'eventemitter3';
import { type Collection, type Document, MaxKey } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { ReplicationError, SourceReadError } from '../errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { forEachConcurrently, mapConcurrently } from '../lifecycle/concurrently.js';
import { redactError } from '../logger.js';
import { parseNamespace } from '../namespace/namespace.js';
import {
  type DocumentSplitterEvents,
  type DocumentSplitterOptions,
  type ResolvedDocumentSplitterOptions,
  resolveDocumentSplitterOptions,
  type SplitEvent
} from './document-splitter-options.js';
import { type IdRange } from './id-range.js';
import { chooseSplitPoints, estimateShares, rangeCountFor } from './split-points.js';

export {
  documentSplitterDefaults,
  type DocumentSplitterEvents,
  type DocumentSplitterOptions,
  type ResolvedDocumentSplitterOptions,
  type SplitEvent
} from './document-splitter-options.js';
export { type IdRange, rangeFindOptions } from './id-range.js';

/** Collections of one database from which `splitMany` estimates them together. */
const MANY_COLLECTIONS = 8;

/**
 * Cuts source collections into `_id` ranges for parallel readers; see the module comment for how
 * and why.
 *
 * @example
 * ```ts
 * const splitter = new DocumentSplitter({ source, maxRangesPerCollection: 8 });
 * splitter.on('split', e => console.log(e.namespace, e.ranges.length, 'ranges'));
 * for (const range of await splitter.split('shop.orders')) {
 *   const cursor = source.db('shop').collection('orders').find({}, rangeFindOptions(range));
 *   // … one reader per range
 * }
 * ```
 * @public
 */
export class DocumentSplitter extends EventEmitter<DocumentSplitterEvents> {
  /** The resolved options. */
  readonly options: Readonly<ResolvedDocumentSplitterOptions>;

  /**
   * @throws {@link InvalidConfigError} naming the first invalid option; nothing is read before.
   */
  constructor(options: DocumentSplitterOptions) {
    super();
    this.options = resolveDocumentSplitterOptions(options);
  }

  /**
   * Cuts `namespace` into ranges and emits `split` with them.
   *
   * @param namespace - The source collection, `db.coll`.
   * @returns The ranges in `_id` order; together they cover the collection exactly once.
   * @throws {@link InvalidConfigError} when `namespace` is not a valid `db.coll`.
   * @throws {@link SourceReadError} when the source cannot be read (`retryable` says whether trying
   * again may help).
   */
  async split(namespace: string): Promise<readonly IdRange[]> {
    const { db, coll } = parseNamespace(namespace);
    let ranges: readonly IdRange[];
    try {
      ranges = await this.#cut(namespace, db, coll);
    } catch (error) {
      throw toSourceReadError(namespace, error);
    }
    this.#emitSplit({ namespace, ranges });
    return ranges;
  }

  /**
   * Cuts many collections, up to `concurrency` at once, and emits `split` for each. A database
   * of 8 collections or more whose documents all together would make one range (`dbStats`) has
   * every collection read as one range without asking each for its count (each is estimated at
   * the database's average): on a source of thousands of small collections that saves a round
   * trip per collection.
   *
   * @returns The ranges of each namespace, in the order given.
   * @throws as {@link DocumentSplitter.split}
   */
  async splitMany(namespaces: readonly string[], concurrency = 8): Promise<(readonly IdRange[])[]> {
    const parsed = namespaces.map(namespace => parseNamespace(namespace));
    const perDb = new Map<string, number>();
    for (const { db } of parsed) perDb.set(db, (perDb.get(db) ?? 0) + 1);
    // Only where counting one by one would cost: a database's average is a poor estimate of
    // each of a few collections (progress and ETA read it).
    const dbs = [...perDb].filter(([, count]) => count >= MANY_COLLECTIONS).map(([db]) => db);
    const small = new Map<string, number>();
    await forEachConcurrently(dbs, concurrency, async db => {
      const perCollection = await this.#smallDatabaseEstimate(db);
      if (perCollection !== undefined) small.set(db, perCollection);
    });
    return mapConcurrently(namespaces, concurrency, async (namespace, index) => {
      const estimate = small.get(parsed[index]!.db);
      if (estimate === undefined) return this.split(namespace);
      const ranges = whole(namespace, estimate);
      this.#emitSplit({ namespace, ranges });
      return ranges;
    });
  }

  /**
   * When all the documents of `db` together make one range, an estimate of one collection's
   * documents (their average); undefined when its collections must be counted one by one.
   */
  async #smallDatabaseEstimate(db: string): Promise<number | undefined> {
    let stats: Document;
    try {
      stats = await this.options.source.db(db).command({ dbStats: 1, scale: 1 });
    } catch (error) {
      throw toSourceReadError(db, error);
    }
    const objects = Number(stats.objects);
    const collections = Number(stats.collections) || 1;
    if (!Number.isFinite(objects)) return undefined;
    const { maxRangesPerCollection, minDocumentsPerRange } = this.options;
    if (rangeCountFor(objects, maxRangesPerCollection, minDocumentsPerRange) > 1) return undefined;
    return Math.round(objects / collections);
  }

  async #cut(namespace: string, db: string, coll: string): Promise<readonly IdRange[]> {
    const { source, logger } = this.options;
    const database = source.db(db);
    const collection = database.collection(coll);
    // The count first: most collections of a many-collection source are small, and one range
    // needs no catalog checks (it is read without bounds).
    const count = await collection.estimatedDocumentCount();
    const wanted = rangeCountFor(
      count,
      this.options.maxRangesPerCollection,
      this.options.minDocumentsPerRange
    );
    if (wanted === 1) return whole(namespace, count);
    const [info] = await database.listCollections({ name: coll }, { nameOnly: false }).toArray();
    if (info === undefined) return whole(namespace, 0);
    const reason = await unsplittableReason(info, collection);
    if (reason !== undefined) {
      logger.info('Collection read as one range', { namespace, reason });
      return whole(namespace, count);
    }
    if ((await collection.findOne({ _id: new MaxKey() }, { projection: { _id: 1 } })) !== null) {
      logger.warn('Collection read as one range', {
        namespace,
        reason: 'a document has _id MaxKey, which no bounded range can return'
      });
      return whole(namespace, count);
    }
    const sampled = await collection
      .aggregate<{ _id: unknown }>(
        [
          { $sample: { size: wanted * this.options.samplesPerRange } },
          { $project: { _id: 1 } },
          { $sort: { _id: 1 } }
        ],
        EXACT_DECODE_OPTIONS
      )
      .toArray();
    const ids = sampled.map(doc => doc._id);
    const points = chooseSplitPoints(ids, wanted);
    const shares = estimateShares(points, ids.length, count);
    const bounds = [undefined, ...points.map(point => point.id), undefined];
    const ranges = shares.map((estimatedDocuments, index) =>
      idRange(namespace, index, shares.length, bounds[index], bounds[index + 1], estimatedDocuments)
    );
    logger.debug('Collection cut into ranges', {
      namespace,
      ranges: ranges.length,
      wanted,
      samples: ids.length,
      estimatedDocuments: count
    });
    return Object.freeze(ranges);
  }

  #emitSplit(event: SplitEvent): void {
    try {
      this.emit('split', event);
    } catch (listenerError) {
      this.options.logger.error("A listener for 'split' threw; the splitter carries on", {
        namespace: event.namespace,
        listenerError
      });
    }
  }
}

/** Why a collection cannot be read in `_id` ranges, or undefined when it can. */
async function unsplittableReason(
  info: Document,
  collection: Collection
): Promise<string | undefined> {
  const type: unknown = info.type ?? 'collection';
  if (type !== 'collection') return `it is a ${String(type)}, which has no _id index to bound`;
  const indexes = await collection.listIndexes().toArray();
  const idIndex = indexes.find(isIdIndex);
  if (idIndex === undefined) return 'it has no {_id: 1} index';
  const locale = (idIndex.collation as { locale?: unknown } | undefined)?.locale;
  if (locale !== undefined && locale !== 'simple') {
    // Under a collation, _ids that differ in bytes can be equal index keys, and equal split
    // points would make an empty range that mongod refuses.
    return 'its _id index has a non-simple collation';
  }
  return undefined;
}

/**
 * True for a plain `{_id: 1}` index spec (neither partial nor sparse), whatever its collation.
 * @internal
 */
export function isIdIndex(index: Document): boolean {
  const key = index.key as Document | undefined;
  if (key === undefined || key === null || typeof key !== 'object') return false;
  const fields = Object.keys(key);
  return (
    fields.length === 1 &&
    fields[0] === '_id' &&
    Number(key._id) === 1 &&
    index.partialFilterExpression === undefined &&
    index.sparse !== true
  );
}

function whole(namespace: string, estimatedDocuments: number): readonly IdRange[] {
  return Object.freeze([
    idRange(namespace, 0, 1, undefined, undefined, Math.max(0, estimatedDocuments))
  ]);
}

function idRange(
  namespace: string,
  index: number,
  count: number,
  min: unknown,
  max: unknown,
  estimatedDocuments: number
): IdRange {
  return Object.freeze({
    namespace,
    index,
    count,
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
    estimatedDocuments
  });
}

function toSourceReadError(namespace: string, error: unknown): ReplicationError {
  if (ReplicationError.is(error)) return error;
  const { retryable, hint } = classifyError(error);
  return new SourceReadError(`Could not split ${namespace} into _id ranges`, retryable, {
    namespace,
    hint,
    cause: redactError(error)
  });
}
