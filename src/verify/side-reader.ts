/**
 * Reads one `_id` range of one side, raw and in `_id` order, for the merge in range-compare.ts.
 *
 * A bounded range is read as the full copy reads it (`hint: {_id: 1}` with `min`/`max`, see
 * {@link rangeFindOptions}): an index scan, in index order. A whole collection (one unbounded
 * range) is read with `sort: {_id: 1}` under the simple collation, so strings come in byte order
 * even where the collection has a default collation (mongod then sorts instead of walking the
 * index; `allowDiskUse` lets it sort a large collection).
 */
import { type MongoClient } from 'mongodb';

import { splitNamespace } from '../namespace/namespace.js';
import { type IdRange, rangeFindOptions } from '../split/id-range.js';
import { readFailed, type Side } from './target-catalog.js';

/**
 * What {@link readSide} reads.
 * @internal
 */
export interface SideRead {
  readonly client: MongoClient;
  readonly side: Side;
  /** The namespace on this side (the source's, or the target's after renames). */
  readonly namespace: string;
  /** The range's bounds; its own `namespace` is not used. */
  readonly range: IdRange;
  readonly signal: AbortSignal;
}

/**
 * The documents of the range, raw (as the server sent them), in `_id` order.
 * @throws {@link SourceReadError} or {@link TargetWriteError} when the read fails; the abort
 * reason when `signal` aborts
 * @internal
 */
export async function* readSide(read: SideRead): AsyncGenerator<Uint8Array, void, void> {
  const { client, side, namespace, range, signal } = read;
  const { db, coll } = splitNamespace(namespace);
  const bounds = rangeFindOptions(range);
  const order =
    bounds.hint !== undefined
      ? bounds
      : { sort: { _id: 1 as const }, collation: { locale: 'simple' }, allowDiskUse: true };
  const cursor = client
    .db(db)
    .collection(coll)
    .find({}, { ...order, raw: true, signal });
  try {
    for await (const document of cursor as unknown as AsyncIterable<Uint8Array>) {
      yield document;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw readFailed(
      side,
      `Reading range ${range.index + 1}/${range.count} of ${namespace} on the ${side}`,
      error,
      namespace
    );
  } finally {
    await cursor.close().catch(() => undefined);
  }
}

/**
 * A range with no documents, for a side that does not have the namespace (or has a view there).
 * @internal
 */

export async function* noDocuments(): AsyncGenerator<Uint8Array, void, void> {}
