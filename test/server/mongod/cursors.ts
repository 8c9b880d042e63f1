/**
 * Server-side cursors: ids, batches, tailable/awaitData waiting, and kills. A cursor pulls its
 * documents from a `CursorSource`, so find, aggregate, listCollections and oplog tailing share the
 * batching, the 16 MiB reply bound and the getMore rules.
 */
import { randomBytes } from 'node:crypto';

import { Long } from 'bson';

import { bsonSize } from '../bson/codec.js';
import { type BDoc } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';

/** Where a cursor's documents come from. */
export interface CursorSource {
  /** Up to `limit` more documents; `exhausted` once nothing more can ever come. */
  next(limit: number, maxBytes: number): { docs: BDoc[]; exhausted: boolean };
  /** Called when something new may be readable (tailable sources); returns an unsubscribe. */
  onReadable?(listener: () => void): () => void;
  /** Change streams: the token to resume after the batch just returned (`postBatchResumeToken`). */
  postBatchResumeToken?(): BDoc;
}

/** A source over a fixed list of results. */
export class ArraySource implements CursorSource {
  #position = 0;
  constructor(private readonly docs: BDoc[]) {}

  next(limit: number, maxBytes: number): { docs: BDoc[]; exhausted: boolean } {
    const out: BDoc[] = [];
    let bytes = 0;
    while (this.#position < this.docs.length && out.length < limit) {
      const doc = this.docs[this.#position]!;
      const size = bsonSize(doc);
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(doc);
      bytes += size;
      this.#position++;
    }
    return { docs: out, exhausted: this.#position >= this.docs.length };
  }
}

export interface Cursor {
  readonly id: Long;
  readonly ns: string;
  readonly source: CursorSource;
  readonly tailable: boolean;
  readonly awaitData: boolean;
  /** Documents still allowed by the query's `limit` (Infinity when none). */
  remaining: number;
  readonly batchSize: number | undefined;
  /** Aborted by killCursors, drops, or server shutdown; wakes a waiting getMore. */
  readonly abort: AbortController;
  busy: boolean;
}

/** mongod bounds one reply's documents at 16 MiB. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** The first batch of a find or aggregate holds at most 101 documents by default. */
export const DEFAULT_FIRST_BATCH = 101;

export class CursorRegistry {
  readonly #cursors = new Map<string, Cursor>();

  get size(): number {
    return this.#cursors.size;
  }

  /**
   * Runs the first batch of a new cursor. Returns the batch and the cursor id (0 when the source
   * is exhausted, so no cursor is kept).
   */
  open(
    ns: string,
    source: CursorSource,
    options: {
      batchSize?: number | undefined;
      limit?: number | undefined;
      tailable?: boolean;
      awaitData?: boolean;
      singleBatch?: boolean;
    }
  ): { id: Long; batch: BDoc[]; source: CursorSource } {
    const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
    const first = Math.min(options.batchSize ?? DEFAULT_FIRST_BATCH, limit);
    const { docs, exhausted } =
      first > 0 ? source.next(first, MAX_BATCH_BYTES) : { docs: [], exhausted: false };
    const remaining = limit - docs.length;
    if ((exhausted && !options.tailable) || remaining <= 0 || options.singleBatch) {
      return { id: Long.ZERO, batch: docs, source };
    }
    const id = newCursorId();
    this.#cursors.set(id.toString(), {
      id,
      ns,
      source,
      tailable: options.tailable ?? false,
      awaitData: options.awaitData ?? false,
      remaining,
      batchSize: options.batchSize,
      abort: new AbortController(),
      busy: false
    });
    return { id, batch: docs, source };
  }

  /** `getMore`: the next batch, waiting up to `maxTimeMS` on an awaitData cursor with nothing new. */
  async getMore(
    id: Long,
    ns: string,
    options: { batchSize?: number | undefined; maxTimeMS?: number | undefined }
  ): Promise<{ id: Long; batch: BDoc[]; source: CursorSource }> {
    const cursor = this.#cursors.get(id.toString());
    if (!cursor) throw new ServerError(43, `cursor id ${id.toString()} not found`);
    if (cursor.ns !== ns) {
      throw new ServerError(
        13,
        `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${cursor.ns}`
      );
    }
    if (options.maxTimeMS !== undefined && !cursor.awaitData) {
      throw new ServerError(
        2,
        'cannot set maxTimeMS on getMore command for a non-awaitData cursor'
      );
    }
    if (cursor.busy) throw new ServerError(2, `cursor id ${id.toString()} is already in use`);
    cursor.busy = true;
    try {
      const limit = Math.min(
        options.batchSize && options.batchSize > 0 ? options.batchSize : Infinity,
        cursor.remaining
      );
      let result = this.#read(cursor, limit);
      if (result.docs.length === 0 && cursor.awaitData && !result.exhausted) {
        const deadline = Date.now() + (options.maxTimeMS ?? 1000);
        while (result.docs.length === 0 && !result.exhausted && Date.now() < deadline) {
          await waitReadable(cursor, deadline - Date.now());
          if (cursor.abort.signal.aborted) {
            throw new ServerError(237, `cursor id ${id.toString()} was killed`);
          }
          result = this.#read(cursor, limit);
        }
      }
      cursor.remaining -= result.docs.length;
      const done = (result.exhausted && !cursor.tailable) || cursor.remaining <= 0;
      if (done) this.#cursors.delete(id.toString());
      return { id: done ? Long.ZERO : cursor.id, batch: result.docs, source: cursor.source };
    } catch (error) {
      this.#cursors.delete(id.toString());
      throw error;
    } finally {
      cursor.busy = false;
    }
  }

  #read(cursor: Cursor, limit: number): { docs: BDoc[]; exhausted: boolean } {
    return cursor.source.next(limit, MAX_BATCH_BYTES);
  }

  /** True when the cursor with this id is a change stream (its errors get resumable labels). */
  isChangeStream(id: Long): boolean {
    return this.#cursors.get(id.toString())?.source.postBatchResumeToken !== undefined;
  }

  /** `killCursors`: returns which ids were killed and which were unknown. */
  kill(ids: Long[]): { killed: Long[]; notFound: Long[] } {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of ids) {
      const cursor = this.#cursors.get(id.toString());
      if (!cursor) {
        notFound.push(id);
        continue;
      }
      cursor.abort.abort();
      this.#cursors.delete(id.toString());
      killed.push(id);
    }
    return { killed, notFound };
  }

  /** Kills every cursor on a namespace (its collection was dropped or renamed). */
  killNamespace(ns: string): void {
    for (const [key, cursor] of this.#cursors) {
      if (cursor.ns === ns) {
        cursor.abort.abort();
        this.#cursors.delete(key);
      }
    }
  }

  /** Kills everything (server shutdown). */
  killAll(): void {
    for (const cursor of this.#cursors.values()) cursor.abort.abort();
    this.#cursors.clear();
  }
}

function waitReadable(cursor: Cursor, timeoutMs: number): Promise<void> {
  return new Promise(resolve => {
    const signal = cursor.abort.signal;
    let unsubscribe: () => void = () => {};
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, timeoutMs));
    unsubscribe = cursor.source.onReadable?.(done) ?? (() => {});
    signal.addEventListener('abort', done, { once: true });
  });
}

function newCursorId(): Long {
  // Random positive int64, as mongod hands out.
  const bytes = randomBytes(8);
  bytes[7]! &= 0x7f;
  const value = bytes.readBigInt64LE(0);
  return Long.fromBigInt(value === 0n ? 1n : value);
}
