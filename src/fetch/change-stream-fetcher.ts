/**
 * ChangeStreamFetcher: the {@link OplogFetcher}'s twin for deployments that cannot read
 * `local.oplog.rs` (managed services, restricted users): it reads a cluster-wide change stream
 * and hands the same {@link FetchedEntry} items to the same downstream stages.
 *
 * ```
 *  start() ─► open ─ hello (6.0+ required) → aggregate $changeStream {allChangesForCluster,
 *    │               showExpandedEvents, startAfter: token | startAtOperationTime: start + 1}
 *    │               └─ history lost (ChangeStreamHistoryLost, token not found) ► failed
 *    ▼                                                        (OplogStartMissingError)
 *  tail ─ getMore → group events by cluster time → one synthetic entry per group → `output`
 *    │ ▲    a group is complete when an event of a later time arrives, when the batch's
 *    │ │    postBatchResumeToken moved past its last event, or when a getMore comes back empty
 *    │ │    (asked with a short wait while a group is pending); a quiet stream's moving
 *    │ │    postBatchResumeToken becomes a progress noop, so the checkpoint advances
 *    │ └── resume ─ transient error: backoff (`retry` events), re-open after the last
 *    │       DELIVERED entry's token (a pending group is read again)
 *    └── stop() / signal ─ abort the getMore, kill the cursor, close `output`
 * ```
 *
 * The loop around the cursor (retries and their failure episodes, stop, `lag` sampling) is the
 * {@link TailingFetcher}'s, shared with the {@link OplogFetcher}; this file holds what is
 * particular to change streams: the `aggregate`/`getMore` commands and event grouping.
 *
 * MongoDB 6.0 has no `disambiguatedPaths` in update events; there the stream also asks for
 * `fullDocument: 'updateLookup'` so that an update whose paths are ambiguous can be applied as a
 * replacement (see `change-events.ts`).
 */
import {
  type ClientSession,
  type Document,
  type Long,
  MongoServerError,
  type Timestamp
} from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { OplogStartMissingError, SourceReadError } from '../errors.js';
import { describeFailure } from '../lifecycle/side-errors.js';
import { compareOptimes, formatOptime } from '../oplog/oplog-entry.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';
import { justAfter, justBefore, sameToken, tokenClusterTime } from '../pipeline/resume-token.js';
import {
  ChangeEventGroups,
  progressEntry,
  type SkippedChangeEvent
} from './change-event-groups.js';
import {
  type ChangeStreamFetcherOptions,
  resolveChangeStreamFetcherOptions
} from './change-stream-fetcher-options.js';
import { type OplogFetcherEvents } from './oplog-fetcher-events.js';
import { SplitEventAssembler } from './split-events.js';
import { TailingFetcher } from './tailing-fetcher.js';

export { type SkippedChangeEvent } from './change-event-groups.js';
export {
  type ChangeStreamFetcherOptions,
  type ResolvedChangeStreamFetcherOptions
} from './change-stream-fetcher-options.js';
import { describeId, isTimestamp } from '../bson/bson-values.js';

/**
 * Events of the {@link ChangeStreamFetcher}: those of the {@link OplogFetcher}, plus `skipped`.
 * @public
 */
export interface ChangeStreamFetcherEvents extends OplogFetcherEvents {
  /** A change event had nothing to apply on the target (a sharding event, an unknown type). */
  skipped: (event: SkippedChangeEvent) => void;
}

/** The first wire version of MongoDB 6.0 (`showExpandedEvents`). */
const WIRE_6_0 = 17;
/** The first wire version with `disambiguatedPaths` in update events (6.1). */
const WIRE_6_1 = 18;
/** The first wire version of MongoDB 7.0 (`$changeStreamSplitLargeEvent`). */
const WIRE_7_0 = 21;
/** The BSON size limit a change event must stay under. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;
/** BSONObjectTooLarge: an event over 16 MiB that the source did not split. */
const TOO_LARGE = 10334;
/** How long a stop or a re-open waits for the server to kill the old cursor. */
const KILL_CURSOR_TIMEOUT_MS = 2000;
/** How long a getMore waits while a group may still have events to come. */
const PENDING_GROUP_WAIT_MS = 10;
/** Codes meaning the stream cannot resume where asked: its history is gone. */
const HISTORY_LOST_CODES: ReadonlySet<number> = new Set([280, 286]);
/** Not a replica set, or change streams unsupported: no retry helps. */
const UNSUPPORTED_CODES: ReadonlySet<number> = new Set([40573, 40415, 115]);

interface CursorReply {
  readonly id: Long;
  readonly batch: Document[];
  readonly postBatchResumeToken: Document | undefined;
}

/**
 * Reads a cluster-wide change stream of the source into a bounded queue of synthetic oplog
 * entries, resuming after transient failures.
 *
 * @remarks
 * The output is the {@link OplogFetcher}'s: one {@link FetchedEntry} per source write (a
 * transaction or a batched write becomes one `applyOps` entry holding its operations, with its
 * `lsid` and `txnNumber`), in cluster-time order, each with the `resumeToken` to restart after
 * it. Events with nothing to apply are reported by `skipped` events. A start point that left the
 * source's history fails the stage with {@link OplogStartMissingError}.
 *
 * @example
 * ```ts
 * const fetcher = new ChangeStreamFetcher({ source: client, start: checkpoint.lastApplied,
 *   resumeToken: checkpoint.resumeToken });
 * fetcher.on('skipped', s => console.warn(s.operationType, s.reason));
 * await fetcher.start();
 * for await (const { entry, resumeToken } of fetcher.output) apply(entry, resumeToken);
 * ```
 * @public
 */
export class ChangeStreamFetcher extends TailingFetcher<ChangeStreamFetcherEvents> {
  readonly #groups: ChangeEventGroups;
  readonly #splits = new SplitEventAssembler();
  #session: ClientSession | undefined;
  #splitSupported = false;
  /** True while the aggregate that opens the stream is in flight. */
  #opening = false;
  #cursorId: Long | undefined;
  /** The token of the last entry delivered (or the start token). */
  #lastToken: Document | undefined;

  /**
   * Validates the options; no I/O happens before `start()`.
   * @throws {@link InvalidConfigError} on an invalid option
   */
  constructor(options: ChangeStreamFetcherOptions) {
    const resolved = resolveChangeStreamFetcherOptions(options);
    super('change-stream-fetcher', options, resolved, {
      open: 'open the change stream',
      read: 'read the change stream',
      cursor: 'change stream cursor'
    });
    this.#lastToken = resolved.resumeToken;
    this.#groups = new ChangeEventGroups(this.stageName, skipped => {
      this.logger.warn('A change event has nothing to apply on the target', {
        operationType: skipped.operationType,
        ...(skipped.namespace === undefined ? {} : { namespace: skipped.namespace }),
        optime: formatOptime(skipped.optime),
        reason: skipped.reason
      });
      this.safeEmit('skipped', skipped);
    });
  }

  /** The optime of the last entry delivered, or the start point before the first one. */
  get lastFetched(): Timestamp | undefined {
    return this.fetchedOptime;
  }

  /** The resume token of the last entry delivered (or the start token). */
  get lastResumeToken(): Document | undefined {
    return this.#lastToken;
  }

  /** The source's latest optime: `operationTime` of a ping (no oplog read needed). @internal */
  protected async newestOptime(signal: AbortSignal): Promise<Timestamp> {
    const reply = await this.#admin().command({ ping: 1 }, { signal });
    const ts: unknown = reply.operationTime;
    if (isTimestamp(ts)) return ts;
    throw new SourceReadError('The source reported no operationTime', false, {
      hint: 'Change streams need a replica set (or sharded cluster) source, not a standalone mongod'
    });
  }

  /**
   * Opens the stream after the last delivered token, or after `from` when there is none.
   * @internal
   */
  protected async openCursor(from: Timestamp): Promise<void> {
    const admin = this.#admin();
    const signal = this.halt;
    const hello = await admin.command({ hello: 1 }, { signal });
    const wire = Number(hello.maxWireVersion ?? 0);
    if (wire < WIRE_6_0) {
      throw new SourceReadError(
        `The change-stream fetch method needs MongoDB 6.0 or newer (the source speaks wire version ${wire})`,
        false,
        { hint: 'Use fetchMethod "oplog" for this source, or upgrade it' }
      );
    }
    const spec: Document = {
      allChangesForCluster: true,
      showExpandedEvents: true,
      ...(wire < WIRE_6_1 ? { fullDocument: 'updateLookup' } : {})
    };
    if (this.#lastToken !== undefined) spec.startAfter = this.#lastToken;
    else spec.startAtOperationTime = justAfter(from);
    const pipeline: Document[] = [{ $changeStream: spec }];
    // Events over 16 MiB arrive in fragments (reassembled here) instead of failing the stream.
    this.#splitSupported = wire >= WIRE_7_0;
    if (this.#splitSupported) pipeline.push({ $changeStreamSplitLargeEvent: {} });
    const session = this.options.source.startSession();
    this.#session = session;
    let reply: CursorReply;
    this.#opening = true;
    try {
      const raw = await admin.command(
        {
          aggregate: 1,
          pipeline,
          cursor: { batchSize: this.options.batchSize }
        },
        { ...EXACT_DECODE_OPTIONS, session, signal }
      );
      reply = cursorReply(raw, 'firstBatch');
    } catch (error) {
      this.#opening = false;
      if (this.#session === session) await this.closeCursor();
      else await session.endSession().catch(() => undefined);
      throw await this.#translate(error);
    }
    this.#opening = false;
    if (this.#session !== session) {
      // A stop dropped the cursor while it was being opened: kill the one that arrived anyway
      // (with its own session: the server ties the cursor to it).
      await this.#killCursor(reply.id, session);
      await session.endSession().catch(() => undefined);
      return;
    }
    this.#cursorId = reply.id;
    // The first batch is usually empty; delivering it also handles a token-only answer.
    if (!(await this.#deliver(reply))) return;
  }

  /** Whether the stream's cursor is open. @internal */
  protected hasCursor(): boolean {
    return this.#cursorId !== undefined;
  }

  /**
   * Reads batches until stopped; `progressed` after each `getMore` that came back.
   * @internal
   */
  protected async tailCursor(progressed: () => void): Promise<void> {
    const halt = this.halt;
    const admin = this.#admin();
    while (!halt.aborted) {
      const id = this.#cursorId;
      if (id === undefined) throw new Error('change-stream-fetcher: no cursor to tail');
      if (id.isZero()) {
        throw new SourceReadError('The source closed the change stream cursor', true, {
          hint: 'The fetcher re-opens it after the last delivered change'
        });
      }
      const maxTimeMS =
        this.#groups.pending || this.#splits.pending
          ? PENDING_GROUP_WAIT_MS
          : this.options.maxAwaitTimeMS;
      let raw: Document;
      try {
        raw = await admin.command(
          {
            getMore: id,
            collection: '$cmd.aggregate',
            batchSize: this.options.batchSize,
            maxTimeMS
          },
          { ...EXACT_DECODE_OPTIONS, session: this.#session!, signal: halt }
        );
      } catch (error) {
        throw await this.#translate(error);
      }
      progressed();
      const reply = cursorReply(raw, 'nextBatch');
      this.#cursorId = reply.id;
      if (!(await this.#deliver(reply))) break;
    }
  }

  /**
   * Forgets the cursor and a pending group, kills the cursor on the server (best effort) and
   * ends its session.
   * @internal
   */
  protected dropCursor(): Promise<void> | undefined {
    const id = this.#cursorId;
    const session = this.#session;
    this.#cursorId = undefined;
    this.#session = undefined;
    // Events of a group not yet delivered are read again from the last delivered token.
    this.#groups.discard();
    this.#splits.discard();
    // An aggregate in flight still needs its session: openCursor() kills its cursor and ends it.
    if (session === undefined || this.#opening) return undefined;
    return (async () => {
      try {
        if (id !== undefined) await this.#killCursor(id, session);
      } finally {
        await session.endSession().catch(() => undefined);
      }
    })();
  }

  /**
   * Kills a cursor on the server, best effort and bounded in time: after a network error or a
   * failover the server may be unreachable, and a stop or a re-open must not wait on it (an
   * abandoned cursor times out on the server by itself).
   */
  async #killCursor(id: Long, session: ClientSession): Promise<void> {
    if (id.isZero()) return;
    await this.#admin()
      .command(
        { killCursors: '$cmd.aggregate', cursors: [id] },
        { session, signal: AbortSignal.timeout(KILL_CURSOR_TIMEOUT_MS) }
      )
      .catch((error: unknown) => {
        this.logger.debug('Killing the change stream cursor failed', {
          stage: this.stageName,
          error: describeFailure(error)
        });
      });
  }

  #admin() {
    return this.options.source.db('admin');
  }

  /**
   * Maps "cannot resume there" answers to the error a missing oplog start gives, and an event
   * too large to send to an error naming its document.
   */
  async #translate(error: unknown): Promise<unknown> {
    if (!(error instanceof MongoServerError)) return error;
    // Replies are decoded without promoting values, so the code arrives as an Int32; the error
    // classification (and the driver) expect a number.
    error.code = Number(error.code);
    if (Number.isNaN(error.code)) return error;
    const at = this.fetchedOptime;
    if (HISTORY_LOST_CODES.has(error.code)) {
      return new OplogStartMissingError(
        `Resume point ${at ? formatOptime(at) : '(token)'} is no longer in the source's change stream history (${error.codeName ?? error.code})`,
        0,
        {
          ...(at ? { optime: at } : {}),
          cause: error,
          hint: 'Run a full sync (mode "all"), or enlarge the source oplog and restart sooner'
        }
      );
    }
    if (error.code === TOO_LARGE) {
      const at = this.fetchedOptime ? formatOptime(this.fetchedOptime) : 'the start point';
      return new SourceReadError(
        `A change event after ${at} is larger than 16 MiB (${await this.#describeNextEvent()})`,
        false,
        {
          ...(this.fetchedOptime ? { optime: this.fetchedOptime } : {}),
          cause: error,
          hint: this.#splitSupported
            ? 'Shrink the document on the source, or replicate with fetchMethod "oplog"'
            : 'Upgrade the source to MongoDB 7.0 ($changeStreamSplitLargeEvent), or use fetchMethod "oplog"'
        }
      );
    }
    if (UNSUPPORTED_CODES.has(error.code)) {
      return new SourceReadError(
        `The source cannot open a change stream${describeFailure(error)}`,
        false,
        {
          cause: error,
          hint: 'Change streams need a replica set or sharded cluster source running MongoDB 6.0+'
        }
      );
    }
    return error;
  }

  /**
   * The operation, namespace and `_id` of the first event after the last delivered one that is
   * too large, read through a stream that keeps only those events and projects their large
   * fields away. Best effort: only for the error message.
   */
  async #describeNextEvent(): Promise<string> {
    const admin = this.#admin();
    const session = this.options.source.startSession();
    const options = { session, signal: this.halt };
    let cursorId: Long | undefined;
    try {
      const spec: Document = { allChangesForCluster: true, showExpandedEvents: true };
      if (this.#lastToken !== undefined) spec.startAfter = this.#lastToken;
      else spec.startAtOperationTime = justAfter(this.resumePoint());
      const reply = await admin.command(
        {
          aggregate: 1,
          pipeline: [
            { $changeStream: spec },
            { $match: { $expr: { $gte: [{ $bsonSize: '$$ROOT' }, MAX_EVENT_BYTES] } } },
            { $project: { ns: 1, documentKey: 1, operationType: 1, clusterTime: 1 } }
          ],
          cursor: { batchSize: 1 }
        },
        options
      );
      const cursor = reply.cursor as Document;
      cursorId = cursor.id as Long;
      let event = (cursor.firstBatch as Document[])[0];
      if (event === undefined) {
        const more = await admin.command(
          {
            getMore: cursor.id as Long,
            collection: '$cmd.aggregate',
            batchSize: 1,
            maxTimeMS: 1000
          },
          options
        );
        event = ((more.cursor as Document).nextBatch as Document[])[0];
      }
      if (event === undefined) return 'its document could not be identified';
      const ns = event.ns as { db?: string; coll?: string } | undefined;
      const key = event.documentKey as Document | undefined;
      const time = event.clusterTime as Timestamp | undefined;
      // The _id's type only (it is document data); the cluster time finds the entry in the oplog.
      return `${String(event.operationType)} of ${ns?.db ?? '?'}.${ns?.coll ?? '?'}, ${describeId(key?._id ?? null)}${time ? ` at ${formatOptime(time)}` : ''}`;
    } catch {
      return 'its document could not be identified';
    } finally {
      if (cursorId !== undefined) await this.#killCursor(cursorId, session);
      await session.endSession().catch(() => undefined);
    }
  }

  /** Groups a batch's events and pushes every complete group. False once `output` closed. */
  async #deliver(reply: CursorReply): Promise<boolean> {
    const ready: FetchedEntry[] = [];
    for (const fragment of reply.batch) {
      const event = this.#splits.add(fragment);
      if (event === undefined) continue;
      if (event.operationType === 'invalidate') {
        throw new SourceReadError('The change stream was invalidated', false, {
          ...(this.fetchedOptime ? { optime: this.fetchedOptime } : {}),
          hint: 'A cluster-wide stream is never invalidated by MongoDB; check the source deployment'
        });
      }
      const done = this.#groups.add(event);
      if (done) ready.push(done);
    }
    const token = reply.postBatchResumeToken;
    if (
      this.#groups.pending &&
      !this.#splits.pending &&
      (reply.batch.length === 0 || !sameToken(token, this.#groups.lastToken))
    ) {
      // An empty answer, or a resume token past the group's last event: nothing more is coming
      // for that cluster time.
      ready.push(this.#groups.flush()!);
    }
    for (const fetched of ready) {
      if (!this.#tryPush(fetched) && !(await this.#push(fetched))) return false;
    }
    if (
      !this.#groups.pending &&
      !this.#splits.pending &&
      token !== undefined &&
      !sameToken(token, this.#lastToken)
    ) {
      // A quiet (or filtered) stream: the token moved past the last change. Changes at its own
      // cluster time may still follow, so the progress entry sits just before it.
      const tokenTime = tokenClusterTime(token);
      const at = tokenTime === undefined ? undefined : justBefore(tokenTime);
      if (
        at !== undefined &&
        this.fetchedOptime !== undefined &&
        compareOptimes(at, this.fetchedOptime) > 0
      ) {
        if (!(await this.#push(progressEntry(at, token)))) return false;
      }
    }
    if (ready.length > 0) {
      this.safeEmit('batch', {
        stage: this.stageName,
        count: ready.length,
        bytes: ready.reduce((sum, fetched) => sum + fetched.bytes, 0),
        firstOptime: ready[0]!.entry.ts,
        lastOptime: ready.at(-1)!.entry.ts,
        skippedFromMigrate: 0
      });
    }
    return true;
  }

  /**
   * Queues `fetched` at once if `output` has room (true), without awaiting: the batcher then
   * finds a whole batch queued instead of waking up once per entry.
   */
  #tryPush(fetched: FetchedEntry): boolean {
    if (!this.output.tryPush(fetched, fetched.bytes)) return false;
    this.#delivered(fetched);
    return true;
  }

  /** Queues `fetched`, waiting while `output` is full. False once `output` closed. */
  async #push(fetched: FetchedEntry): Promise<boolean> {
    if (!(await this.output.push(fetched, fetched.bytes, this.halt))) return false;
    this.#delivered(fetched);
    return true;
  }

  #delivered(fetched: FetchedEntry): void {
    this.fetchedOptime = fetched.entry.ts;
    if (fetched.resumeToken !== undefined) this.#lastToken = fetched.resumeToken;
  }
}

function cursorReply(raw: Document, batchField: 'firstBatch' | 'nextBatch'): CursorReply {
  const cursor = raw.cursor as Document | undefined;
  const batch: unknown = cursor?.[batchField];
  if (cursor === undefined || !Array.isArray(batch)) {
    throw new SourceReadError(
      'The source answered a change stream command without a cursor',
      false,
      {
        hint: 'The source must be MongoDB 6.0+ (replica set or sharded cluster)'
      }
    );
  }
  const token: unknown = cursor.postBatchResumeToken;
  return {
    id: cursor.id as Long,
    batch: batch as Document[],
    postBatchResumeToken:
      token !== null && typeof token === 'object' ? (token as Document) : undefined
  };
}
