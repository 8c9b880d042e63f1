/**
 * OplogFetcher: reads the source's `local.oplog.rs` the way a MongoDB secondary's OplogFetcher
 * does, and hands the entries to the next stage through a bounded queue.
 *
 * ```
 *  start() ─► open ─ resolve 'latest' (newest entry), find ts ≥ start (tailable, awaitData,
 *    │               oplogReplay); the first entry must BE start (it is already applied: drop it)
 *    │               (startKind 'time': find ts > start, and the oldest entry must be ≤ start)
 *    │               └─ it is not ──────────────────────────────► failed (OplogStartMissingError)
 *    ▼
 *  tail ─ getMore → decode (exact BSON types) → skip fromMigrate → push each entry to `output`
 *    │ ▲    (push waits while `output` is full: backpressure) → `batch` event → next getMore
 *    │ │    an empty getMore (awaitData timed out) just loops
 *    │ │
 *    │ └── resume ─ transient error (network, step-down, CappedPositionLost, CursorNotFound):
 *    │       backoff (`retry` events), re-open at the LAST FETCHED optime with the same
 *    │       first-entry check ─┬─ position gone ──────────────► failed (OplogStartMissingError)
 *    │                          └─ budget spent ───────────────► failed (RetriesExhaustedError)
 *    ├── fatal error (malformed entry, auth, out-of-order) ──────► failed
 *    └── stop() / signal ─ kill the cursor, close `output` ─────► stopped (consumer drains)
 * ```
 *
 * The loop around the cursor (retries and their failure episodes, stop, `lag` sampling) is the
 * {@link TailingFetcher}'s, shared with the {@link ChangeStreamFetcher}; this file holds what
 * is particular to the oplog: the start-point checks, the tailable cursor and batch decoding.
 */
import { type Collection, type Document, type FindCursor, type Timestamp } from 'mongodb';

import { takeBufferedRaw } from '../bson/raw-batch.js';
import { SourceReadError } from '../errors.js';
import { compareOptimes } from '../oplog/oplog-entry.js';
import { decodeOplogEntry } from '../pipeline/fetched-entry.js';
import { sortOutBatch } from './oplog-batch.js';
import { oplogStartMissing } from './oplog-fetcher-errors.js';
import { type OplogFetcherEvents } from './oplog-fetcher-events.js';
import { type OplogFetcherOptions, resolveOplogFetcherOptions } from './oplog-fetcher-options.js';
import { TailingFetcher } from './tailing-fetcher.js';

// The fetcher's option and event types live in small files of their own; re-exported here so
// that callers import everything about the fetcher from one module.
export {
  type OplogBatchEvent,
  type OplogFetcherEvents,
  type OplogFetchLagEvent
} from './oplog-fetcher-events.js';
export {
  oplogFetcherDefaults,
  type OplogFetcherOptions,
  type OplogFetcherRetryOptions,
  type ResolvedOplogFetcherOptions
} from './oplog-fetcher-options.js';
import { isTimestamp } from '../bson/bson-values.js';

/** What `raw: true` cursors yield; the driver's types only know documents. */
type RawCursor = FindCursor<Document>;

/** Only `ts` is needed to find the newest and oldest entries. */
const TS_ONLY = Object.freeze({ projection: { _id: 0, ts: 1 }, limit: 1 });

/**
 * Tails the source oplog into a bounded queue, resuming after transient failures.
 *
 * @remarks
 * `start` has checkpoint semantics: it is the optime of the last entry already applied, and the
 * first entry delivered is the one after it. A resume point that is no longer in the source
 * oplog (or never was) fails the stage with {@link OplogStartMissingError}, which rejects
 * `start()` and `done`: continuing would silently skip writes.
 *
 * Entries arrive in `output` in oplog order, decoded with their exact BSON types
 * (`Int32` stays `Int32`), each with its BSON size. Chunk-migration entries (`fromMigrate`) are
 * skipped and counted in `batch` events. `output` is closed when the fetcher ends, whichever
 * way: after a graceful `stop()` the consumer drains what is left, then gets `undefined`.
 *
 * @example
 * ```ts
 * const fetcher = new OplogFetcher({ source: client, start: checkpoint.lastApplied });
 * fetcher.on('lag', l => metrics.fetchLag.set(l.seconds));
 * await fetcher.start();
 * for await (const { entry } of fetcher.output) apply(entry);
 * await fetcher.done; // rejects with the fatal error, if any
 * ```
 * @public
 */
export class OplogFetcher extends TailingFetcher<OplogFetcherEvents> {
  #cursor: RawCursor | undefined;
  /** The first entry after a time start, read while checking the start: delivered first. */
  #firstRaw: Uint8Array | undefined;
  /** Once true, the resume point is an entry of this oplog. */
  #fetchedAnEntry = false;

  /**
   * Validates the options; no I/O happens before `start()`.
   * @throws {@link InvalidConfigError} on an invalid option
   */
  constructor(options: OplogFetcherOptions) {
    super('oplog-fetcher', options, resolveOplogFetcherOptions(options), {
      open: 'open the oplog cursor',
      read: 'read the source oplog',
      cursor: 'oplog cursor'
    });
  }

  /**
   * The optime of the last entry read from the source (delivered or skipped), or `undefined`
   * before `start()` has resolved the start point.
   */
  get lastFetched(): Timestamp | undefined {
    return this.fetchedOptime;
  }

  /** The newest entry's optime: a cheap capped-end read. @internal */
  protected newestOptime(signal: AbortSignal): Promise<Timestamp | undefined> {
    return this.#edgeOptime(-1, signal);
  }

  /**
   * Opens the tailable cursor at `from` and checks that its first entry is exactly `from`, as a
   * secondary's `checkRemoteOplogStart()` does: otherwise entries between `from` and the first
   * one returned were truncated (or `from` was never there), and tailing would skip them.
   * @internal
   */
  protected async openCursor(from: Timestamp): Promise<void> {
    const { batchSize, maxAwaitTimeMS } = this.options;
    // A time start (`startKind: 'time'`) is no entry of this oplog until an entry was fetched.
    const atTime = !this.#fetchedAnEntry && this.options.startKind === 'time';
    const cursor = this.#oplog().find(
      { ts: atTime ? { $gt: from } : { $gte: from } },
      {
        tailable: true,
        awaitData: true,
        oplogReplay: true, // ignored from 4.4 on, needed before
        noCursorTimeout: true, // a consumer may hold the fetcher back for longer than 10 minutes
        batchSize,
        maxAwaitTimeMS,
        raw: true // Buffers: the exact BSON size of each entry, decoded with our own options
      }
    );
    this.#cursor = cursor;
    let first: Uint8Array | null;
    let oldest: Timestamp | undefined;
    try {
      first = await nextRaw(cursor);
      // Stopped meanwhile: the cursor was closed under us, so an empty answer means nothing.
      this.halt.throwIfAborted();
      // Read after the first entry: an oldest entry no newer than `from` then proves that
      // nothing between `from` and the first entry had been truncated when it was returned.
      if (atTime) oldest = await this.#edgeOptime(1);
    } catch (error) {
      await this.closeCursor();
      throw error;
    }
    if (atTime) {
      if (oldest !== undefined && compareOptimes(oldest, from) <= 0) {
        this.#firstRaw = first ?? undefined;
        return;
      }
      await this.closeCursor();
      throw oplogStartMissing(
        from,
        first === null ? undefined : decodeOplogEntry(first).entry.ts,
        oldest
      );
    }
    const firstTs = first === null ? undefined : decodeOplogEntry(first).entry.ts;
    if (firstTs !== undefined && compareOptimes(firstTs, from) === 0) return;
    await this.closeCursor();
    throw oplogStartMissing(from, firstTs, await this.#edgeOptime(1));
  }

  /** Whether the tailable cursor is open. @internal */
  protected hasCursor(): boolean {
    return this.#cursor !== undefined;
  }

  /**
   * Reads batches until stopped; `progressed` after each `getMore` that came back.
   * @internal
   */
  protected async tailCursor(progressed: () => void): Promise<void> {
    const cursor = this.#cursor;
    if (cursor === undefined) throw new Error('oplog-fetcher: no cursor to tail');
    const halt = this.halt;
    const held = this.#firstRaw;
    this.#firstRaw = undefined;
    if (held !== undefined) {
      const raws = [held, ...takeBufferedRaw(cursor).documents];
      if (!(await this.#deliver(raws))) return;
    }
    while (!halt.aborted) {
      const fetching = cursor.bufferedCount() === 0;
      if (fetching && isDead(cursor)) {
        // The server ended the tailable cursor (mongod does when it cannot continue, such as
        // after the oplog was recreated); iterating would spin on empty batches.
        throw new SourceReadError('The source closed the tailable oplog cursor', true, {
          hint: 'The fetcher re-opens it from the last fetched optime'
        });
      }
      const first = await nextRaw(cursor);
      if (fetching) progressed();
      if (first === null) continue; // awaitData timed out with nothing new
      if (halt.aborted) break;
      const raws = [first, ...takeBufferedRaw(cursor).documents];
      if (!(await this.#deliver(raws))) break;
    }
  }

  /** Forgets the cursor and kills it on the server (`killCursors`). @internal */
  protected dropCursor(): Promise<void> | undefined {
    const cursor = this.#cursor;
    this.#cursor = undefined;
    this.#firstRaw = undefined;
    return cursor?.close();
  }

  #oplog(): Collection {
    return this.options.source.db('local').collection('oplog.rs');
  }

  /** The newest (`-1`) or oldest (`1`) optime of the source oplog; a cheap capped-end read. */
  async #edgeOptime(direction: 1 | -1, signal?: AbortSignal): Promise<Timestamp | undefined> {
    const [doc] = await this.#oplog()
      .find({}, { ...TS_ONLY, sort: { $natural: direction }, ...(signal ? { signal } : {}) })
      .toArray();
    const ts: unknown = doc?.ts;
    return isTimestamp(ts) ? ts : undefined;
  }

  /** Pushes one batch into `output` (waiting while it is full). False once `output` closed. */
  async #deliver(raws: readonly Uint8Array[]): Promise<boolean> {
    const batch = sortOutBatch(
      this.resumePoint(),
      raws.map(decodeOplogEntry),
      this.options.fromMigrate
    );
    for (const fetched of batch.deliver) {
      // Queued without a wait while there is room: the batcher then finds the batch queued
      // instead of waking up once per entry.
      const queued =
        this.output.tryPush(fetched, fetched.bytes) ||
        (await this.output.push(fetched, fetched.bytes, this.halt));
      if (!queued) return false;
      // Per entry, so `lag` is exact while a full output holds the rest of the batch back.
      this.fetchedOptime = fetched.entry.ts;
    }
    this.fetchedOptime = batch.lastOptime; // also past trailing skipped entries
    this.#fetchedAnEntry = true;
    this.safeEmit('batch', {
      stage: this.stageName,
      count: batch.deliver.length,
      bytes: batch.bytes,
      firstOptime: batch.firstOptime,
      lastOptime: batch.lastOptime,
      skippedFromMigrate: batch.skippedFromMigrate
    });
    return true;
  }
}

/** The next raw document of a `raw: true` cursor, or null after an empty (timed-out) batch. */
async function nextRaw(cursor: RawCursor): Promise<Uint8Array | null> {
  return (await cursor.tryNext()) as unknown as Uint8Array | null;
}

function isDead(cursor: RawCursor): boolean {
  return cursor.closed || cursor.id?.isZero() === true;
}
