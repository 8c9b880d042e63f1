/**
 * TailingFetcher: what the {@link OplogFetcher} and the {@link ChangeStreamFetcher} share. Both
 * tail a cursor on the source into a bounded `output`; they differ only in how the cursor is
 * opened, read and closed, and in how the source's newest optime is read. Those are the hooks
 * each one implements; the loop around them lives here.
 *
 * ```
 *  open() ─ retry: resolve the start point once ('latest': the source's newest optime),
 *    │             then openCursor(start)
 *    ▼
 *  run() ─ retry episode: (re-)openCursor(last fetched) if none is open → tail
 *    │ ▲     ├─ stopped (halt aborted, `output` closed) ───────────────────────► end
 *    │ │     ├─ transient failure before the cursor made progress: the same episode retries
 *    │ └─────┴─ transient failure after progress: closes the cursor, starts a new episode
 *    ├── lag sampling, beside the loop: newestOptime() vs the last fetched optime → `lag`
 *    └── drain() / a forced abort / the loop's end ─ halt: close `output`, close the cursor,
 *          end every wait; the loop then waits for every cursor close it started
 * ```
 *
 * The retry budget (`retry.maxRetryTimeMs`) covers one failure episode: it starts at the first
 * failure and is renewed only once a `getMore` succeeded on a re-opened cursor, so a tail that
 * ran for days still gets its full budget, while a cursor that re-opens fine but keeps failing
 * its first `getMore` cannot loop for ever.
 *
 * The class is `@public` although only the two fetchers extend it: they are public, and the
 * public declaration rollup drops internal declarations, so an internal base class would leave
 * their declarations extending a missing type. Its hooks are `@internal` instead.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { Timestamp } from 'mongodb';

import { type ReplicationError } from '../errors.js';
import { BoundedQueue } from '../lifecycle/bounded-queue.js';
import { Stage, type StageOptions } from '../lifecycle/stage.js';
import { compareOptimes } from '../oplog/oplog-entry.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';
import { classifyFetcherError, oplogStartMissing, toFetcherError } from './oplog-fetcher-errors.js';
import { type OplogFetcherEvents } from './oplog-fetcher-events.js';
import { type ResolvedOplogFetcherOptions } from './oplog-fetcher-options.js';

/** How a stretch of tailing ended: a requested stop, or a transient failure after progress. */
type TailOutcome =
  { readonly kind: 'stopped' } | { readonly kind: 'failed'; readonly error: unknown };

const STOPPED: TailOutcome = Object.freeze({ kind: 'stopped' });

/**
 * The lifecycle the {@link OplogFetcher} and the {@link ChangeStreamFetcher} share: a bounded
 * `output`, opening with retries, a tailing loop that re-opens the cursor after transient
 * failures, a graceful stop that closes `output`, and `lag` sampling.
 *
 * @remarks
 * Not meant to be extended outside this package: its hooks are internal and may change in any
 * release.
 * @public
 */
export abstract class TailingFetcher<Events extends OplogFetcherEvents> extends Stage<Events> {
  /**
   * The fetched entries, in source order (oplog order; cluster-time order for a change stream);
   * closed when the fetcher ends.
   */
  readonly output: BoundedQueue<FetchedEntry>;
  /**
   * Where tailing resumes: the optime of the last entry fetched (what counts as fetched is each
   * fetcher's `lastFetched`), or the start point before the first one.
   * @internal
   */
  protected fetchedOptime: Timestamp | undefined;
  /**
   * The fetcher's options, resolved.
   * @internal
   */
  protected readonly options: ResolvedOplogFetcherOptions;
  readonly #names: Readonly<Record<'open' | 'read' | 'cursor', string>>;
  /** Aborted on stop, on a forced abort and when the main loop ends: ends waits and sampling. */
  readonly #halt = new AbortController();
  /** Settles once every cursor closed so far has been closed on the server. */
  #cursorsClosed: Promise<void> = Promise.resolve();

  /**
   * @param stageName - The fetcher's stage name.
   * @param options - The fetcher's options, for its lifecycle.
   * @param resolved - The same options, resolved.
   * @param names - For logs and `retry` events: what `open()` retries (`open the oplog cursor`),
   * what `run()` retries (`read the source oplog`), and the cursor (`oplog cursor`).
   * @internal
   */
  protected constructor(
    stageName: string,
    options: StageOptions,
    resolved: ResolvedOplogFetcherOptions,
    names: Readonly<Record<'open' | 'read' | 'cursor', string>>
  ) {
    super(stageName, options);
    this.options = resolved;
    this.#names = names;
    this.output = new BoundedQueue<FetchedEntry>(
      resolved.bufferMaxEntries,
      resolved.bufferMaxBytes
    );
  }

  /**
   * Aborted once the fetcher stops reading (stop, forced abort, end of the loop): every read,
   * push and wait of a hook passes it on.
   * @internal
   */
  protected get halt(): AbortSignal {
    return this.#halt.signal;
  }

  /** Resolves the start point and opens the cursor (retrying transient failures). */
  protected async open(signal: AbortSignal): Promise<void> {
    const halt = () => this.#shutdown(signal.reason);
    if (signal.aborted) halt();
    else signal.addEventListener('abort', halt, { once: true });
    try {
      await this.retry(
        this.#names.open,
        async () => {
          this.fetchedOptime ??= await this.#resolveStart();
          await this.openCursor(this.fetchedOptime);
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
          this.#names.read,
          async () => {
            if (failure !== undefined) {
              // The failure that ended a healthy stretch: attempt 1 of a new episode, so it is
              // classified, reported as a `retry` event and backed off like any other.
              const error = failure;
              failure = undefined;
              throw error;
            }
            if (!this.hasCursor()) await this.openCursor(this.resumePoint());
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
      this.#shutdown(new Error(`${this.stageName} ended`));
      await this.#cursorsClosed;
      await sampling;
    }
  }

  /** Stops reading and closes `output`; the consumer drains what was delivered. */
  protected drain(): Promise<void> {
    // Entries read but not yet pushed are dropped: they were never delivered, so no checkpoint
    // names them and a restart reads them again. run() then ends and waits for the cursor close.
    this.#shutdown(new Error(`${this.stageName} stopped`));
    return Promise.resolve();
  }

  /** Typed errors pass through; driver errors become a {@link SourceReadError}. */
  protected toReplicationError(error: unknown): ReplicationError {
    return toFetcherError(error, this.fetchedOptime);
  }

  /**
   * The source's newest optime: the `'latest'` start point, and the reference of `lag`.
   * `undefined` when the source has none to give.
   * @internal
   */
  protected abstract newestOptime(signal: AbortSignal): Promise<Timestamp | undefined>;

  /**
   * Opens a cursor that delivers what follows `from` (already fetched), or throws
   * {@link OplogStartMissingError} if the source can no longer start there.
   * @internal
   */
  protected abstract openCursor(from: Timestamp): Promise<void>;

  /** Whether a cursor is open (a failure closes it). @internal */
  protected abstract hasCursor(): boolean;

  /**
   * Reads batches from the open cursor into `output` until `halt` aborts or `output` closes;
   * calls `progressed` after each answer the source gave to a read. Throws what failed.
   * @internal
   */
  protected abstract tailCursor(progressed: () => void): Promise<void>;

  /**
   * Forgets the current cursor and closes it on the source; `undefined` when none is open. A
   * rejection is only logged: use {@link TailingFetcher.closeCursor}, which also lets the loop
   * wait for the close before it ends.
   * @internal
   */
  protected abstract dropCursor(): Promise<void> | undefined;

  /**
   * Closes the current cursor (the source frees it) and remembers the close, so that the main
   * loop waits for it before it ends. Never rejects.
   * @internal
   */
  protected closeCursor(): Promise<void> {
    const closing = this.dropCursor()?.catch((error: unknown) => {
      this.logger.debug(`Closing the ${this.#names.cursor} failed`, {
        stage: this.stageName,
        error: toFetcherError(error, this.fetchedOptime).message
      });
    });
    if (closing === undefined) return Promise.resolve();
    this.#cursorsClosed = Promise.all([this.#cursorsClosed, closing]).then(() => undefined);
    return closing;
  }

  /**
   * The optime tailing resumes after; only called once the start point is resolved.
   * @internal
   */
  protected resumePoint(): Timestamp {
    const resume = this.fetchedOptime;
    if (resume === undefined) throw new Error(`${this.stageName}: no resume point`);
    return resume;
  }

  #retryOptions() {
    return { ...this.options.retry, classify: classifyFetcherError };
  }

  async #resolveStart(): Promise<Timestamp> {
    const start = this.options.start;
    if (start !== 'latest') return start;
    const newest = await this.newestOptime(this.#halt.signal);
    if (newest === undefined) {
      throw oplogStartMissing(new Timestamp({ t: 0, i: 0 }), undefined, undefined);
    }
    return newest;
  }

  /**
   * Tails the open cursor. Returns `failed` for a transient failure after the source answered
   * at least one read (a new retry episode), throws for a failure before that (the same episode
   * goes on) and for a fatal one.
   */
  async #tail(): Promise<TailOutcome> {
    const halt = this.#halt.signal;
    let progressed = false;
    try {
      await this.tailCursor(() => (progressed = true));
      return STOPPED;
    } catch (error) {
      if (halt.aborted) return STOPPED;
      await this.closeCursor();
      if (progressed && classifyFetcherError(error).retryable) return { kind: 'failed', error };
      throw error;
    }
  }

  /**
   * Emits `lag` every `lagIntervalMs` while someone listens. Independent of the read loop, so a
   * fetcher held back by a full `output` still reports its growing lag. Never rejects.
   */
  async #sampleLag(): Promise<void> {
    // `Events` is generic here, so TypeScript cannot resolve its keys; the constraint guarantees
    // `lag`.
    const events = this as unknown as TailingFetcher<OplogFetcherEvents>;
    const signal = this.#halt.signal;
    while (!signal.aborted) {
      try {
        await sleep(this.options.lagIntervalMs, undefined, { signal });
      } catch {
        return; // halted
      }
      const fetched = this.fetchedOptime;
      if (events.listenerCount('lag') === 0 || fetched === undefined) continue;
      try {
        const newest = await this.newestOptime(signal);
        if (newest === undefined || signal.aborted) continue;
        const source = compareOptimes(newest, fetched) > 0 ? newest : fetched;
        events.safeEmit('lag', {
          stage: this.stageName,
          sourceOptime: source,
          fetchedOptime: fetched,
          seconds: Math.max(source.t - fetched.t, 0)
        });
      } catch (error) {
        // Only a metric: the read loop notices a real outage and handles it.
        if (!signal.aborted) {
          this.logger.debug('Sampling the source lag failed', {
            stage: this.stageName,
            error: toFetcherError(error, fetched).message
          });
        }
      }
    }
  }

  /** Ends reading: wakes a waiting push, stops sampling, interrupts a waiting read. */
  #shutdown(reason: unknown): void {
    if (!this.#halt.signal.aborted) this.#halt.abort(reason);
    this.output.close();
    // Closing the cursor makes an awaitData getMore return now instead of after its wait.
    void this.closeCursor();
  }
}
