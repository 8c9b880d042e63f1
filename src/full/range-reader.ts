/**
 * Reads one `_id` range of a source collection, raw and in `_id` order, and carries on after a
 * transient failure from where it was: after the last `_id` read for a bounded range, or past
 * the documents already read for an unsplittable one (a view or time-series collection, read in
 * natural order once).
 */
import { BSON, type Collection, type Document, type MongoClient, MongoServerError } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { rawDocuments } from '../bson/raw-batch.js';
import { SourceReadError } from '../errors.js';
import { type Logger } from '../logger.js';
import { splitNamespace } from '../namespace/namespace.js';
import { type IdRange, rangeFindOptions } from '../split/document-splitter.js';
import { sameId } from '../split/split-points.js';

/**
 * What a read meets when its collection is dropped or renamed under it (CursorNotFound,
 * NamespaceNotFound, QueryPlanKilled, CursorKilled).
 */
const KILLED: ReadonlySet<number> = new Set([43, 26, 175, 237]);

/**
 * What {@link readRange} needs.
 * @internal
 */
export interface RangeReadOptions {
  readonly source: MongoClient;
  readonly range: IdRange;
  /** The collection's UUID, to follow it when it is renamed during the read. */
  readonly uuid: unknown;
  readonly batchSize: number;
  readonly signal: AbortSignal;
  /** Retries a transient failure of one attempt (the stage's backoff and `retry` events). */
  readonly retry: <T>(operation: string, fn: (attempt: number) => Promise<T>) => Promise<T>;
  /** Where a range ended early by a drop is reported. */
  readonly logger: Logger;
  /**
   * Receives each document as its own copy of the raw BSON (decoded by the writer, so decoded
   * documents live only briefly); returns false to
   * stop reading (a stop was requested or the consumer closed).
   */
  readonly onDocument: (raw: Uint8Array) => Promise<boolean> | boolean;
}

/**
 * How a range is read: `bounded` (hint + min/max, resumable after the last `_id`), `hinted` (a
 * whole collection in `_id` order, resumable the same way), or `natural` (no `_id` index to
 * use: a view, a time-series collection; a retry skips what was read, which is exact only if
 * nothing was deleted meanwhile).
 */
type ReadMode = 'bounded' | 'hinted' | 'natural';

/**
 * Reads the range to its end (or until `onDocument` returns false). A collection renamed under
 * the read is followed by its UUID; one dropped ends the read (in mode all the oplog replays the
 * drop).
 * @internal
 */
export async function readRange(options: RangeReadOptions): Promise<void> {
  const { source, range, batchSize, signal, retry, onDocument } = options;
  let collection = collectionOf(source, range.namespace);
  const bounds = rangeFindOptions(range);
  let mode: ReadMode = bounds.hint !== undefined ? 'bounded' : 'hinted';
  // The last document read, raw: its _id is decoded only when a retry needs it.
  let lastRaw: Uint8Array | undefined;
  let read = 0;
  await retry(`read ${range.namespace} range ${range.index + 1}/${range.count}`, async () => {
    for (;;) {
      const ordered = mode !== 'natural';
      // A retry starts at the last _id read (inclusive, so skip it) or skips what was read.
      const skipFirst = ordered && lastRaw !== undefined ? { value: idOf(lastRaw) } : undefined;
      const resumeAt = skipFirst !== undefined ? { min: { _id: skipFirst.value } } : {};
      const cursor = collection.find(
        {},
        {
          ...(ordered ? { hint: { _id: 1 }, ...bounds } : {}),
          ...resumeAt,
          ...(!ordered && read > 0 ? { skip: read } : {}),
          raw: true,
          batchSize,
          promoteValues: false
        }
      );
      try {
        let first = true;
        for await (const raw of rawDocuments(cursor)) {
          signal.throwIfAborted();
          if (first && skipFirst !== undefined && sameId(idOf(raw), skipFirst.value)) {
            first = false;
            continue;
          }
          first = false;
          // A copy: the driver's raw documents may be views of a whole reply buffer.
          lastRaw = Uint8Array.prototype.slice.call(raw);
          read++;
          if (!(await onDocument(lastRaw))) return;
        }
        // Nothing at all: the collection may have been renamed before this range started.
        if (read === 0 && options.uuid !== undefined && !(await exists(collection))) {
          const moved = await findByUuid(source, options.uuid);
          if (moved !== undefined && moved !== collectionName(collection)) {
            collection = collectionOf(source, moved);
            continue;
          }
        }
        return;
      } catch (error) {
        if (!(error instanceof MongoServerError)) throw error;
        if (mode === 'hinted' && read === 0 && !KILLED.has(Number(error.code))) {
          // No plain _id index to walk (a view, a time-series collection): natural order.
          mode = 'natural';
          continue;
        }
        if (!KILLED.has(Number(error.code))) throw error;
        if (await exists(collection)) {
          throw new SourceReadError(`The cursor reading ${range.namespace} was killed`, true, {
            namespace: range.namespace,
            cause: error
          });
        }
        const moved =
          options.uuid === undefined ? undefined : await findByUuid(source, options.uuid);
        if (moved === undefined) {
          // Dropped: nothing more to copy (in mode all the drop is replayed); never silently.
          options.logger.warn(
            `${range.namespace} was dropped during the copy; its range ends early`,
            {
              range: range.index + 1,
              documentsRead: read
            }
          );
          return;
        }
        collection = collectionOf(source, moved);
        throw new SourceReadError(
          `${range.namespace} was renamed to ${moved} during the copy`,
          true,
          {
            namespace: range.namespace,
            cause: error
          }
        );
      } finally {
        await cursor.close().catch(() => undefined);
      }
    }
  });
}

function idOf(raw: Uint8Array): unknown {
  return (BSON.deserialize(raw, EXACT_DECODE_OPTIONS) as Document)._id;
}

function collectionOf(source: MongoClient, namespace: string): Collection {
  const { db, coll } = splitNamespace(namespace);
  return source.db(db).collection(coll);
}

function collectionName(collection: Collection): string {
  return `${collection.dbName}.${collection.collectionName}`;
}

async function exists(collection: Collection): Promise<boolean> {
  const found = await collection.db
    .listCollections({ name: collection.collectionName }, { nameOnly: true })
    .toArray();
  return found.length > 0;
}

/** The namespace of the collection with this UUID now, if it still exists. */
async function findByUuid(source: MongoClient, uuid: unknown): Promise<string | undefined> {
  const { databases } = await source.db('admin').admin().listDatabases({ nameOnly: true });
  for (const { name } of databases) {
    const [found] = await source
      .db(name)
      .listCollections({ 'info.uuid': uuid }, { nameOnly: false })
      .toArray();
    if (found !== undefined) return `${name}.${found.name}`;
  }
  return undefined;
}
