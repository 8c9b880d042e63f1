/**
 * OplogFetcher: reads the source's `local.oplog.rs` the way a MongoDB secondary's OplogFetcher
 * does, and hands the entries to the next stage through a bounded queue.
 *
 * ```
 *  start() ─► open ─ resolve 'latest' (newest entry), find ts ≥ start (tailable, awaitData,
 *    │               oplogReplay); the first entry must BE start (it is already applied: drop it)
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
 * The retry budget (`retry.maxRetryTimeMs`) covers one failure episode: it starts at the first
 * failure and is renewed only once a `getMore` succeeded on a re-opened cursor, so a tail that
 * ran for days still gets its full budget, while a cursor that re-opens fine but keeps failing
 * its first `getMore` cannot loop for ever.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { type Collection, type Document, type FindCursor, Timestamp } from 'mongodb';

import { type ReplicationError, SourceReadError } from '../errors.js';
import { BoundedQueue } from '../lifecycle/bounded-queue.js';
import { Stage } from '../lifecycle/stage.js';
import { compareOptimes } from '../oplog/oplog-entry.js';
import { decodeOplogEntry, sortOutBatch } from './oplog-batch.js';
import { classifyFetcherError, oplogStartMissing, toFetcherError } from './oplog-fetcher-errors.js';
import { type OplogFetcherEvents } from './oplog-fetcher-events.js';
import {
  type OplogFetcherOptions,
  type ResolvedOplogFetcherOptions,
  resolveOplogFetcherOptions
} from './oplog-fetcher-options.js';
import { type FetchedEntry } from './pipeline-items.js';

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

/** How a stretch of tailing ended: a requested stop, or a transient failure after progress. */
type TailOutcome =
  { readonly kind: 'stopped' } | { readonly kind: 'failed'; readonly error: unknown };

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
export class OplogFetcher extends Stage<OplogFetcherEvents> {
  /** The fetched entries, in oplog order; closed when the fetcher ends. */
  readonly output: BoundedQueue<FetchedEntry>;
  readonly #options: ResolvedOplogFetcherOptions;
  /** Aborted on stop, on a forced abort and when the main loop ends: ends waits and sampling. */
  readonly #halt = new AbortController();
  #cursor: RawCursor | undefined;
  /** The optime of the last entry read (delivered or skipped); the resume point. */
  #lastFetched: Timestamp | undefined;
  /** Settles once every cursor closed so far has been killed on the server. */
  #cursorsClosed: Promise<void> = Promise.resolve();

  /**
   * Validates the options; no I/O happens before `start()`.
   * @throws {@link InvalidConfigError} on an invalid option
   */
  constructor(options: OplogFetcherOptions) {
    const resolved = resolveOplogFetcherOptions(options);
    super('oplog-fetcher', options);
    this.#options = resolved;
    this.output = new BoundedQueue<FetchedEntry>(
      resolved.bufferMaxEntries,
      resolved.bufferMaxBytes
    );
  }

  /**
   * The optime of the last entry read from the source (delivered or skipped), or `undefined`
   * before `start()` has resolved the start point.
   */
  get lastFetched(): Timestamp | undefined {
    return this.#lastFetched;
  }

  /** Resolves the start point and opens the cursor (retrying transient failures). */
  protected async open(signal: AbortSignal): Promise<void> {
    const halt = () => this.#shutdown(signal.reason);
    if (signal.aborted) halt();
    else signal.addEventListener('abort', halt, { once: true });
    try {
      await this.retry(
        'open the oplog cursor',
        async () => {
          this.#lastFetched ??= await this.#resolveStart();
          await this.#openCursor(this.#lastFetched);
        },
        this.#retryOptions()
      );
    } catch (error) {
      this.#shutdown(error);
      await this.#cursorsClosed;
      throw error;
    }
    // A stop that arrived while opening ends the stage without run(); do not leave the cursor.
    if (signal.aborted) {
      this.#shutdown(signal.reason);
      await this.#cursorsClosed;
    }
  }

  /** Tails until stopped; re-opens after transient failures. */
  protected async run(): Promise<void> {
    const sampling = this.#sampleLag();
    try {
      let failure: unknown;
      for (;;) {
        const outcome = await this.retry(
          'read the source oplog',
          async () => {
            if (failure !== undefined) {
              // The failure that ended a healthy stretch: attempt 1 of a new episode, so it is
              // classified, reported as a `retry` event and backed off like any other.
              const error = failure;
              failure = undefined;
              throw error;
            }
            if (this.#cursor === undefined) await this.#openCursor(this.#resumePoint());
            return this.#tail();
          },
          this.#retryOptions()
        );
        if (outcome.kind === 'stopped') return;
        failure = outcome.error;
      }
    } catch (error) {
      // A stop or forced abort interrupted a read or a backoff: that is a clean end.
      if (this.#halt.signal.aborted) return;
      throw error;
    } finally {
      this.#shutdown(new Error('oplog-fetcher ended'));
      await this.#cursorsClosed;
      await sampling;
    }
  }

  /** Stops reading and closes `output`; the consumer drains what was delivered. */
  protected drain(): Promise<void> {
    // Entries read but not yet pushed are dropped: they were never delivered, so no checkpoint
    // names them and a restart reads them again. run() then ends and waits for the cursor kill.
    this.#shutdown(new Error('oplog-fetcher stopped'));
    return Promise.resolve();
  }

  /** Typed errors pass through; driver errors become a {@link SourceReadError}. */
  protected toReplicationError(error: unknown): ReplicationError {
    return toFetcherError(error, this.#lastFetched);
  }

  #retryOptions() {
    return { ...this.#options.retry, classify: classifyFetcherError };
  }

  #resumePoint(): Timestamp {
    if (this.#lastFetched === undefined) throw new Error('oplog-fetcher: no resume point');
    return this.#lastFetched;
  }

  #oplog(): Collection {
    return this.#options.source.db('local').collection('oplog.rs');
  }

  async #resolveStart(): Promise<Timestamp> {
    const start = this.#options.start;
    if (start !== 'latest') return start;
    const newest = await this.#edgeOptime(-1);
    if (newest === undefined) {
      throw oplogStartMissing(new Timestamp({ t: 0, i: 0 }), undefined, undefined);
    }
    return newest;
  }

  /** The newest (`-1`) or oldest (`1`) optime of the source oplog; a cheap capped-end read. */
  async #edgeOptime(direction: 1 | -1, signal?: AbortSignal): Promise<Timestamp | undefined> {
    const [doc] = await this.#oplog()
      .find({}, { ...TS_ONLY, sort: { $natural: direction }, ...(signal ? { signal } : {}) })
      .toArray();
    const ts: unknown = doc?.ts;
    return isTimestamp(ts) ? ts : undefined;
  }

  /**
   * Opens the tailable cursor at `from` and checks that its first entry is exactly `from`, as a
   * secondary's `checkRemoteOplogStart()` does: otherwise entries between `from` and the first
   * one returned were truncated (or `from` was never there), and tailing would skip them.
   */
  async #openCursor(from: Timestamp): Promise<void> {
    const { batchSize, maxAwaitTimeMS } = this.#options;
    const cursor = this.#oplog().find(
      { ts: { $gte: from } },
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
    let first: Timestamp | undefined;
    try {
      const raw = await nextRaw(cursor);
      // Stopped meanwhile: the cursor was closed under us, so an empty answer means nothing.
      this.#halt.signal.throwIfAborted();
      first = raw === null ? undefined : decodeOplogEntry(raw).entry.ts;
    } catch (error) {
      await this.#closeCursor();
      throw error;
    }
    if (first !== undefined && compareOptimes(first, from) === 0) return;
    await this.#closeCursor();
    throw oplogStartMissing(from, first, await this.#edgeOptime(1));
  }

  /**
   * Reads batches until stopped. Returns `failed` for a transient failure after at least one
   * successful `getMore` (a new retry episode), throws for a failure before that (the same
   * episode goes on) and for a fatal one.
   */
  async #tail(): Promise<TailOutcome> {
    const cursor = this.#cursor;
    if (cursor === undefined) throw new Error('oplog-fetcher: no cursor to tail');
    const halt = this.#halt.signal;
    let progressed = false;
    try {
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
        if (fetching) progressed = true;
        if (first === null) continue; // awaitData timed out with nothing new
        if (halt.aborted) break;
        const raws = [first, ...(cursor.readBufferedDocuments() as unknown as Uint8Array[])];
        if (!(await this.#deliver(raws))) break;
      }
      return { kind: 'stopped' };
    } catch (error) {
      if (halt.aborted) return { kind: 'stopped' };
      await this.#closeCursor();
      if (progressed && classifyFetcherError(error).retryable) return { kind: 'failed', error };
      throw error;
    }
  }

  /** Pushes one batch into `output` (waiting while it is full). False once `output` closed. */
  async #deliver(raws: readonly Uint8Array[]): Promise<boolean> {
    const batch = sortOutBatch(this.#resumePoint(), raws.map(decodeOplogEntry));
    for (const fetched of batch.deliver) {
      if (!(await this.output.push(fetched, fetched.bytes, this.#halt.signal))) return false;
      // Per entry, so `lag` is exact while a full output holds the rest of the batch back.
      this.#lastFetched = fetched.entry.ts;
    }
    this.#lastFetched = batch.lastOptime; // also past trailing skipped entries
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

  /**
   * Emits `lag` every `lagIntervalMs` while someone listens. Independent of the read loop, so a
   * fetcher held back by a full `output` still reports its growing lag. Never rejects.
   */
  async #sampleLag(): Promise<void> {
    const signal = this.#halt.signal;
    while (!signal.aborted) {
      try {
        await sleep(this.#options.lagIntervalMs, undefined, { signal });
      } catch {
        return; // halted
      }
      const fetched = this.#lastFetched;
      if (this.listenerCount('lag') === 0 || fetched === undefined) continue;
      try {
        const newest = await this.#edgeOptime(-1, signal);
        if (newest === undefined || signal.aborted) continue;
        const source = compareOptimes(newest, fetched) > 0 ? newest : fetched;
        this.safeEmit('lag', {
          stage: this.stageName,
          sourceOptime: source,
          fetchedOptime: fetched,
          seconds: Math.max(source.t - fetched.t, 0)
        });
      } catch (error) {
        // Only a metric: the read loop notices a real outage and handles it.
        if (!signal.aborted) {
          this.logger.debug('Sampling the source oplog lag failed', {
            stage: this.stageName,
            error: toFetcherError(error, fetched).message
          });
        }
      }
    }
  }

  /** Ends reading: wakes a waiting push, stops sampling, interrupts a waiting getMore. */
  #shutdown(reason: unknown): void {
    if (!this.#halt.signal.aborted) this.#halt.abort(reason);
    this.output.close();
    // Killing the cursor makes an awaitData getMore return now instead of after maxAwaitTimeMS.
    void this.#closeCursor();
  }

  /** Closes the current cursor (a `killCursors` on the server); never rejects. */
  #closeCursor(): Promise<void> {
    const cursor = this.#cursor;
    this.#cursor = undefined;
    if (cursor === undefined) return Promise.resolve();
    const closing = cursor.close().catch((error: unknown) => {
      this.logger.debug('Closing the oplog cursor failed', {
        stage: this.stageName,
        error: toFetcherError(error, this.#lastFetched).message
      });
    });
    // The main loop waits for every close, also those started by a stop, before it ends.
    this.#cursorsClosed = Promise.all([this.#cursorsClosed, closing]).then(() => undefined);
    return closing;
  }
}

/** The next raw document of a `raw: true` cursor, or null after an empty (timed-out) batch. */
async function nextRaw(cursor: RawCursor): Promise<Uint8Array | null> {
  return (await cursor.tryNext()) as unknown as Uint8Array | null;
}

function isDead(cursor: RawCursor): boolean {
  return cursor.closed || cursor.id?.isZero() === true;
}

function isTimestamp(value: unknown): value is Timestamp {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as { _bsontype?: unknown })._bsontype === 'Timestamp'
  );
}
