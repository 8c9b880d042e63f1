/**
 * Reads the part of the source catalog the filter selects: `listDatabases`, then per accepted
 * database `listCollections`, then `listIndexes` per collection (several at once: a source of
 * thousands of small collections would otherwise wait on thousands of round trips in a row), all
 * with exact BSON types.
 */
import { type Binary, type Document, type MongoClient } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { InvalidConfigError, SourceReadError } from '../errors.js';
import { mapConcurrently } from '../lifecycle/concurrently.js';
import { type Logger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { sourceReadFailed } from './catalog-errors.js';
import { type SourceCatalog, type SourceCollection, type SourceView } from './source-catalog.js';
import { orderViews, targetViewOn } from './view-definitions.js';

/** NamespaceNotFound: the collection was dropped between listCollections and listIndexes. */
const NAMESPACE_NOT_FOUND = 26;
/** `listIndexes` commands in flight at once. */
const LIST_INDEXES_CONCURRENCY = 8;
/**
 * Collections of one database from which one `dbStats` may stand in for a `listIndexes` each;
 * fewer are listed one by one (the extra command would not pay).
 */
const MANY_COLLECTIONS = 8;

/**
 * Collections mongod manages itself, never copied whatever the filter says: `system.views`
 * (views are copied as views), `system.buckets.*` (a time-series collection's data, reached
 * through the time-series collection) and `system.profile` (the profiler's own output).
 * @internal
 */
export function managedByServer(coll: string): boolean {
  return coll === 'system.views' || coll === 'system.profile' || coll.startsWith('system.buckets.');
}

/** One `listCollections` entry, as far as the copier reads it. */
interface ListedCollection {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly options?: Document;
  readonly info?: { readonly uuid?: Binary };
  readonly idIndex?: Document;
}

/**
 * Lists what the filter selects on the source.
 *
 * @throws {@link InvalidConfigError} (field `filter.rename`) when two source namespaces would be
 * copied to one target namespace, or a view and what it reads would land in different databases
 * @throws {@link SourceReadError} when the source cannot be read, or lists a kind of namespace
 * the copier does not know
 * @internal
 */
export async function readSourceCatalog(
  source: MongoClient,
  filter: NamespaceFilter,
  logger: Logger
): Promise<SourceCatalog> {
  const collections: SourceCollection[] = [];
  const views: SourceView[] = [];
  for (const db of await listDatabaseNames(source)) {
    if (!filter.acceptsDatabase(db)) continue;
    const listed = await listCollections(source, db);
    const copied = listed.filter(entry => {
      const coll = String(entry.name);
      return !managedByServer(coll) && filter.map(`${db}.${coll}`) !== null;
    });
    const onlyIdIndexes =
      copied.length >= MANY_COLLECTIONS && (await hasOnlyIdIndexes(source, db, listed));
    const indexes = await mapConcurrently(copied, LIST_INDEXES_CONCURRENCY, entry => {
      if (entry.type !== 'collection' && entry.type !== 'timeseries') {
        return Promise.resolve<Document[] | undefined>([]);
      }
      if (onlyIdIndexes && entry.idIndex !== undefined) return Promise.resolve([entry.idIndex]);
      return listIndexes(source, db, String(entry.name));
    });
    for (const [position, listed] of copied.entries()) {
      const coll = String(listed.name);
      const sourceNs = `${db}.${coll}`;
      const targetNs = filter.map(sourceNs)!;
      const options = listed.options ?? {};
      if (listed.type === 'view') {
        views.push({ sourceNs, targetNs, type: 'view', options, indexes: [] });
        continue;
      }
      if (listed.type !== 'collection' && listed.type !== 'timeseries') {
        throw new SourceReadError(
          `The source lists ${sourceNs} as a "${String(listed.type)}", which mongo-replicate cannot copy`,
          false,
          { namespace: sourceNs, hint: 'Exclude it with the filter' }
        );
      }
      const collectionIndexes = indexes[position];
      if (collectionIndexes === undefined) {
        logger.debug('A source collection was dropped while the catalog was read; skipped', {
          namespace: sourceNs
        });
        continue;
      }
      collections.push({
        sourceNs,
        targetNs,
        type: listed.type,
        options,
        ...(listed.info?.uuid === undefined ? {} : { uuid: listed.info.uuid }),
        ...(listed.idIndex === undefined ? {} : { idIndex: listed.idIndex }),
        indexes: collectionIndexes
      });
    }
  }
  checkDistinctTargets([...collections, ...views]);
  for (const view of views) targetViewOn(view, filter);
  return { collections, views: orderViews(views) };
}

async function listDatabaseNames(source: MongoClient): Promise<string[]> {
  try {
    const reply = await source.db('admin').command({ listDatabases: 1, nameOnly: true });
    const databases = reply.databases as readonly { readonly name: string }[];
    return databases.map(database => database.name);
  } catch (error) {
    throw sourceReadFailed('Listing the source databases', error);
  }
}

async function listCollections(source: MongoClient, db: string): Promise<ListedCollection[]> {
  try {
    return (await source
      .db(db)
      .listCollections({}, { nameOnly: false, ...EXACT_DECODE_OPTIONS })
      .toArray()) as ListedCollection[];
  } catch (error) {
    throw sourceReadFailed(`Listing the collections of source database ${db}`, error);
  }
}

/** The collection's index specs, or `undefined` when it no longer exists. */
async function listIndexes(
  source: MongoClient,
  db: string,
  coll: string
): Promise<Document[] | undefined> {
  try {
    // A command rather than a cursor: one round trip with less work on this side, which counts
    // over thousands of collections. A longer list than the first batch is read as a cursor.
    const reply = await source
      .db(db)
      .command({ listIndexes: coll, cursor: {} }, EXACT_DECODE_OPTIONS);
    const cursor = reply.cursor as { id?: unknown; firstBatch?: Document[] } | undefined;
    const first = cursor?.firstBatch;
    if (first !== undefined && isExhausted(cursor?.id)) return first;
    return await source.db(db).collection(coll).listIndexes(EXACT_DECODE_OPTIONS).toArray();
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === NAMESPACE_NOT_FOUND) return undefined;
    throw sourceReadFailed(`Listing the indexes of ${db}.${coll}`, error, `${db}.${coll}`);
  }
}

/**
 * Whether no collection of `db` has an index besides its `_id` index, from one `dbStats`
 * instead of a `listIndexes` per collection: its index count equals the number of collections
 * that have exactly one `_id` index (`listed`, all of the database's entries). Only when that
 * count is certain: no time-series or clustered collection (their indexes differ), no view
 * counted as a collection, and not through a mongos (it adds up the shards' figures).
 */
async function hasOnlyIdIndexes(
  source: MongoClient,
  db: string,
  listed: readonly ListedCollection[]
): Promise<boolean> {
  const collections = listed.filter(entry => entry.type === 'collection');
  const views = listed.filter(entry => entry.type === 'view').length;
  if (collections.length + views !== listed.length) return false;
  if (collections.some(entry => entry.options?.clusteredIndex !== undefined)) return false;
  if (collections.some(entry => entry.idIndex === undefined)) return false;
  let stats: Document;
  try {
    stats = await source.db(db).command({ dbStats: 1 });
  } catch (error) {
    throw sourceReadFailed(`Reading the statistics of source database ${db}`, error);
  }
  if (stats.raw !== undefined) return false;
  return (
    Number(stats.collections) === collections.length && Number(stats.indexes) === collections.length
  );
}

/** A cursor id of 0 (a Long or a number): the server has nothing more. */
function isExhausted(id: unknown): boolean {
  return id !== undefined && id !== null && Number(String(id)) === 0;
}

/**
 * Two source namespaces renamed onto one target would be merged there. The filter rejects the
 * rules that always collide; this catches those that collide only because of what the source
 * holds (`'a.x': 'a.y'` while `a.y` also exists).
 */
function checkDistinctTargets(entries: readonly { sourceNs: string; targetNs: string }[]): void {
  const sources = new Map<string, string>();
  for (const { sourceNs, targetNs } of entries) {
    const other = sources.get(targetNs);
    if (other !== undefined) {
      throw new InvalidConfigError(
        'filter.rename',
        `${other} and ${sourceNs} would both be copied to ${targetNs}; rename or exclude one of them`
      );
    }
    sources.set(targetNs, sourceNs);
  }
}
