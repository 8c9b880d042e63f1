/**
 * Reads one `_id` range of a source collection, raw and in `_id` order, and carries on after a
 * transient failure from where it was: after the last `_id` read for a bounded range, or past
 * the documents already read for an unsplittable one (a view or time-series collection, read in
 * natural order once).
 */
import { BSON, type Collection, type Document, type MongoClient, MongoServerError } from 'mongodb';

import { SourceReadError } from '../errors.js';
import { canonicalIdBytes } from '../incr/lane-hash.js';
import { type IdRange, rangeFindOptions } from './document-splitter.js';

const DECODE = Object.freeze({ promoteValues: false, promoteLongs: false, bsonRegExp: true });

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
  readonly batchSize: number;
  readonly signal: AbortSignal;
  /** Retries a transient failure of one attempt (the stage's backoff and `retry` events). */
  readonly retry: <T>(operation: string, fn: (attempt: number) => Promise<T>) => Promise<T>;
  /**
   * Receives each document, decoded with exact BSON types, and its BSON size; returns false to
   * stop reading (a stop was requested or the consumer closed).
   */
  readonly onDocument: (document: Document, bytes: number) => Promise<boolean> | boolean;
}

function sameId(a: unknown, b: unknown): boolean {
  return Buffer.from(canonicalIdBytes(a)).equals(Buffer.from(canonicalIdBytes(b)));
}

/**
 * Reads the range to its end (or until `onDocument` returns false).
 * @internal
 */
export async function readRange(options: RangeReadOptions): Promise<void> {
  const { source, range, batchSize, signal, retry, onDocument } = options;
  const dot = range.namespace.indexOf('.');
  const collection = source
    .db(range.namespace.slice(0, dot))
    .collection(range.namespace.slice(dot + 1));
  const bounds = rangeFindOptions(range);
  const ordered = bounds.hint !== undefined;
  let lastId: { value: unknown } | undefined;
  let read = 0;
  await retry(`read ${range.namespace} range ${range.index + 1}/${range.count}`, async () => {
    // A retry starts at the last _id read (inclusive, so skip it) or skips what was read.
    const resumeAt = ordered && lastId !== undefined ? { min: { _id: lastId.value } } : {};
    const skipFirst = lastId;
    const cursor = collection.find(
      {},
      {
        ...bounds,
        ...resumeAt,
        ...(!ordered && read > 0 ? { skip: read } : {}),
        raw: true,
        batchSize,
        promoteValues: false
      }
    );
    try {
      let first = true;
      for await (const raw of cursor as unknown as AsyncIterable<Uint8Array>) {
        signal.throwIfAborted();
        const document = BSON.deserialize(raw, DECODE);
        if (first && ordered && skipFirst !== undefined && sameId(document._id, skipFirst.value)) {
          first = false;
          continue;
        }
        first = false;
        lastId = { value: document._id };
        read++;
        if (!(await onDocument(document, raw.byteLength))) return;
      }
    } catch (error) {
      if (!(error instanceof MongoServerError) || !KILLED.has(Number(error.code))) throw error;
      // Gone: the copy of it ends here (in mode all the oplog replays the drop or rename). Still
      // there: the cursor was killed for another reason, so read on from where it stopped.
      if (!(await exists(collection))) return;
      throw new SourceReadError(`The cursor reading ${range.namespace} was killed`, true, {
        namespace: range.namespace,
        cause: error
      });
    } finally {
      await cursor.close().catch(() => undefined);
    }
  });
}

async function exists(collection: Collection): Promise<boolean> {
  const found = await collection.db
    .listCollections({ name: collection.collectionName }, { nameOnly: true })
    .toArray();
  return found.length > 0;
}
