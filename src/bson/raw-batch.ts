/**
 * The documents a `raw: true` cursor has buffered, taken as views of the reply's bytes (the
 * oplog fetcher, the full copy's range readers).
 *
 * Why not `cursor.readBufferedDocuments()`: for every document it hands over, the driver (7.x)
 * first builds an on-demand view of it, parsing all its top-level fields into small arrays, and
 * records it in two dictionaries of the batch, only to return the document's bytes. For a tailing
 * fetcher that is ~2.7 KB of garbage per oplog entry, the largest allocation left in the pipeline:
 * reading the batch's element table directly cut the replicator's CPU per entry by about a third
 * in the incremental bench.
 *
 * That table is driver-internal (`cursor.documents.batch`, the parsed `nextBatch` array). Its
 * shape is checked on every call, and anything unexpected falls back to the public method, so a
 * driver that changes it costs speed, never correctness. `raw-batch.test.ts` pins the direct path
 * to the driver version in the lockfile: it fails when an upgrade stops taking it.
 */
import { type FindCursor } from 'mongodb';

import { int32, TYPE_DOCUMENT } from './bson-scan.js';

/** The driver's cursor reply, as far as it is read here. */
interface BufferedReply {
  readonly batch?: {
    readonly bson?: unknown;
    /** One `[type, nameOffset, nameLength, valueOffset, valueLength]` per array element. */
    readonly elements?: unknown;
  };
  readonly iterated?: unknown;
  readonly clear?: unknown;
}

/**
 * Takes every document `cursor` (opened with `raw: true`) has buffered, in order; `direct` tells
 * whether the batch was read directly or through `readBufferedDocuments()`.
 * @internal
 */
export function takeBufferedRaw(cursor: FindCursor): {
  documents: Uint8Array[];
  direct: boolean;
} {
  const direct = readDirectly(cursor);
  if (direct !== undefined) return { documents: direct, direct: true };
  return {
    documents: cursor.readBufferedDocuments() as unknown as Uint8Array[],
    direct: false
  };
}

/**
 * Every document of a `raw: true` cursor, batch by batch through {@link takeBufferedRaw}: what
 * iterating the cursor yields, without the driver's per-document parse.
 * @internal
 */
export async function* rawDocuments(cursor: FindCursor): AsyncGenerator<Uint8Array, void> {
  for (;;) {
    const first = (await cursor.tryNext()) as unknown as Uint8Array | null;
    if (first === null) return;
    yield first;
    yield* takeBufferedRaw(cursor).documents;
  }
}

function readDirectly(cursor: FindCursor): Uint8Array[] | undefined {
  const reply = (cursor as unknown as { documents?: BufferedReply | null }).documents;
  if (reply === undefined || reply === null) return undefined;
  const { batch, iterated } = reply;
  const bson = batch?.bson;
  const elements = batch?.elements;
  if (
    !(bson instanceof Uint8Array) ||
    !Array.isArray(elements) ||
    typeof iterated !== 'number' ||
    typeof reply.clear !== 'function' ||
    iterated < 0 ||
    iterated > elements.length
  ) {
    return undefined;
  }
  const documents: Uint8Array[] = [];
  for (let index = iterated; index < elements.length; index++) {
    const element: unknown = elements[index];
    if (!Array.isArray(element) || element[0] !== TYPE_DOCUMENT) return undefined;
    const start: unknown = element[3];
    const length: unknown = element[4];
    if (typeof start !== 'number' || typeof length !== 'number') return undefined;
    // The element table's length is the document's own size prefix; check, do not trust.
    if (start + length > bson.length || int32(bson, start) !== length) return undefined;
    documents.push(bson.subarray(start, start + length));
  }
  // Marks the batch consumed, as reading it through the cursor would have.
  (reply.clear as () => void).call(reply);
  return documents;
}
