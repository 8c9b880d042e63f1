/**
 * The cursor source of a change stream: scans the oplog from the start point, turns entries into
 * events (unwinding transactions, adding `invalidate`), swallows events up to the resume token
 * (280 if it is never seen), applies post-images and the user's stages, and keeps the
 * `postBatchResumeToken` as mongod's PlanExecutorPipeline does: the last returned event's token,
 * or a high-water mark at the last scanned entry once that is later than the token's clusterTime.
 */
import { Binary, type Timestamp } from 'bson';

import { type BDoc, type BValue, compareValues, isDoc, valuesIdentical } from '../bson/values.js';
import { runPipeline } from '../engine/aggregate/pipeline.js';
import { ServerError } from '../engine/server-error.js';
import { type CursorSource } from '../mongod/cursors.js';
import { type Mongod } from '../mongod/mongod.js';
import { pipelineContext } from '../mongod/read-path.js';
import {
  eventFor,
  type EventSettings,
  invalidateAfter,
  isClassic,
  type StreamEvent
} from './events.js';
import { invalidates } from './namespace-scope.js';
import {
  describeToken,
  HIGH_WATER_MARK,
  highWaterMark,
  type ParsedToken,
  tokenDocument
} from './resume-token.js';
import {
  isApplyOps,
  isPartialTransaction,
  isPreparedTransaction,
  preparedTransactionOf,
  transactionOperations
} from './transactions.js';

export type BeforeChangeMode = 'off' | 'whenAvailable' | 'required';

export interface ChangeStreamSourceOptions {
  readonly mongod: Mongod;
  readonly settings: EventSettings;
  /** The database the aggregate ran on (for the user stages' context). */
  readonly db: string;
  /** The scan starts at the first entry with `ts >= startTs`. */
  readonly startTs: Timestamp;
  /** resumeAfter/startAfter: events up to and including this token are swallowed. */
  readonly resumeToken?: ParsedToken | undefined;
  /** The first `postBatchResumeToken` (the resume token, or a high-water mark at startTs). */
  readonly initialToken: string;
  readonly defaultVersion: number;
  readonly userStages: BDoc[];
  readonly fullDocumentBeforeChange: BeforeChangeMode;
}

const NON_RESUMABLE = ['NonResumableChangeStreamError'];

export class ChangeStreamSource implements CursorSource {
  readonly #options: ChangeStreamSourceOptions;
  #lastRecordId: number | undefined;
  #lastScannedTs: Timestamp | undefined;
  #queue: StreamEvent[] = [];
  #pbrt: string;
  #pbrtTs: Timestamp;
  #closed = false;
  #firstBatch = true;
  /** Still looking for the client's resume token (event tokens only). */
  #resumePending: boolean;

  constructor(options: ChangeStreamSourceOptions) {
    this.#options = options;
    this.#pbrt = options.initialToken;
    this.#pbrtTs = options.resumeToken?.clusterTime ?? options.startTs;
    this.#resumePending = options.resumeToken !== undefined;
  }

  next(limit: number): { docs: BDoc[]; exhausted: boolean } {
    if (this.#closed) return { docs: [], exhausted: true };
    try {
      return this.#read(limit);
    } catch (error) {
      throw this.#wrap(error);
    } finally {
      this.#firstBatch = false;
    }
  }

  onReadable(listener: () => void): () => void {
    return this.#options.mongod.oplog.onAppend(listener);
  }

  postBatchResumeToken(): BDoc {
    return tokenDocument(this.#pbrt);
  }

  #read(limit: number): { docs: BDoc[]; exhausted: boolean } {
    const docs: BDoc[] = [];
    while (docs.length < limit && !this.#closed) {
      const event = this.#queue.shift();
      if (!event) {
        if (!this.#scanNext()) break;
        continue;
      }
      if (this.#swallowedByResume(event)) continue;
      if (event.operationType === 'invalidate') this.#closed = true;
      if (!this.#options.settings.showExpandedEvents && !isClassic(event.operationType)) continue;
      const outputs = this.#output(event);
      if (outputs.length === 0) continue;
      docs.push(...outputs);
      this.#pbrt = event.token;
      this.#pbrtTs = event.tokenData.clusterTime;
    }
    const scanned = this.#lastScannedTs;
    if (this.#queue.length === 0 && scanned && compareValues(scanned, this.#pbrtTs) > 0) {
      this.#pbrt = highWaterMark(scanned, this.#options.defaultVersion);
      this.#pbrtTs = scanned;
    }
    return { docs, exhausted: this.#closed };
  }

  /** Reads one more oplog entry into the queue; false at the end of the oplog. */
  #scanNext(): boolean {
    const oplog = this.#options.mongod.oplog;
    let index: number;
    if (this.#lastRecordId !== undefined) {
      if (!oplog.contains(this.#lastRecordId)) {
        const ts = this.#lastScannedTs!;
        const recordId = (BigInt(ts.t) << 32n) | BigInt(ts.i);
        throw new ServerError(
          136,
          `CollectionScan died due to position in capped collection being deleted. Last seen record id: RecordId(${recordId})`
        );
      }
      index = oplog.indexAfter(this.#lastRecordId);
    } else {
      const oldest = oplog.oldest;
      if (oldest && compareValues(oldest.ts, this.#options.startTs) > 0) {
        throw new ServerError(
          286,
          'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
          { labels: NON_RESUMABLE }
        );
      }
      index = oplog.lowerBound(this.#options.startTs);
    }
    const next = oplog.records(index).next();
    if (next.done) return false;
    const record = next.value;
    this.#lastRecordId = record.recordId;
    this.#lastScannedTs = record.ts;
    this.#queue = this.#eventsOf(record.doc, record.ts);
    return true;
  }

  #eventsOf(entry: BDoc, ts: Timestamp): StreamEvent[] {
    const { settings, mongod } = this.#options;
    const wall = entry.get('wall');
    const events: StreamEvent[] = [];
    // A prepared transaction's operations are read at its commitTransaction entry (a sharded
    // cluster's two-phase commit), with that entry's time; the prepare itself emits nothing.
    const committed = preparedTransactionOf(entry, mongod.oplog);
    if (committed || isApplyOps(entry)) {
      if (!committed && (isPartialTransaction(entry) || isPreparedTransaction(entry))) return [];
      const lsid = entry.get('lsid');
      const txnNumber = entry.get('txnNumber');
      const ops = committed
        ? transactionOperations(committed.doc, committed.ts, mongod.oplog)
        : transactionOperations(entry, ts, mongod.oplog);
      ops.forEach((applied, txnOpIndex) => {
        const event = eventFor(applied.op, { ts, wall, txnOpIndex, lsid, txnNumber }, settings);
        if (event) events.push(withImageId(event, applied.op, applied.entryTs, applied.index));
      });
    } else {
      const event = eventFor(entry, { ts, wall }, settings);
      if (event) events.push(withImageId(event, entry, ts, 0));
    }
    const cut = events.findIndex(event => invalidates(settings.scope, event.operationType));
    if (cut < 0) return events;
    return [...events.slice(0, cut + 1), invalidateAfter(events[cut]!, settings)];
  }

  /** DSCSCheckResumability + EnsureResumeTokenPresent: drop events up to the client's token. */
  #swallowedByResume(event: StreamEvent): boolean {
    const token = this.#options.resumeToken;
    if (!this.#resumePending || !token) return false;
    if (event.token < token.hex) return true;
    if (event.token === token.hex) {
      this.#resumePending = false;
      return true;
    }
    this.#resumePending = false;
    if (token.tokenType !== HIGH_WATER_MARK) {
      throw new ServerError(
        280,
        `cannot resume stream; the resume token was not found. ${describeToken(tokenDocument(event.token))}`,
        { labels: NON_RESUMABLE }
      );
    }
    return false;
  }

  /** Post-/pre-images, the user's stages, and the check that `_id` survived them. */
  #output(event: StreamEvent): BDoc[] {
    const { mongod, settings, userStages, db } = this.#options;
    const doc = event.doc;
    const images = event.imageId ? mongod.images.get(event.imageId) : undefined;
    if (event.operationType === 'update' && event.lookup) {
      if (settings.fullDocument === 'updateLookup') {
        const { db: lookupDb, coll, id } = event.lookup;
        doc.set('fullDocument', mongod.catalog.collection(lookupDb, coll)?.get(id) ?? null);
      } else if (settings.fullDocument === 'whenAvailable') {
        doc.set('fullDocument', images?.post ?? null);
      } else if (settings.fullDocument === 'required') {
        if (!images?.post) {
          throw new ServerError(
            47,
            `Change stream was configured to require a post-image for all update events, but the post-image was not found for event: ${describeToken(tokenDocument(event.token))}`,
            { codeName: 'NoMatchingDocument' }
          );
        }
        doc.set('fullDocument', images.post);
      }
    }
    if (['update', 'replace', 'delete'].includes(event.operationType)) {
      const mode = this.#options.fullDocumentBeforeChange;
      if (mode === 'whenAvailable') doc.set('fullDocumentBeforeChange', images?.pre ?? null);
      if (mode === 'required') {
        if (!images) {
          throw new ServerError(
            47,
            `Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not found for event: ${describeToken(tokenDocument(event.token))}`,
            { codeName: 'NoMatchingDocument' }
          );
        }
        doc.set('fullDocumentBeforeChange', images.pre);
      }
    }
    const outputs =
      userStages.length === 0 ? [doc] : runPipeline([doc], userStages, pipelineContext(mongod, db));
    const expected = tokenDocument(event.token);
    for (const out of outputs) {
      const id = out.get('_id');
      if (!valuesIdentical(id, expected)) {
        throw new ServerError(
          280,
          'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed. ' +
            `Expected: { _id: ${shellForm(expected)} } but found: ${id === undefined ? '{}' : `{ _id: ${shellForm(id)} }`}`,
          { labels: NON_RESUMABLE }
        );
      }
    }
    return outputs;
  }

  /** mongod prefixes executor errors with where they happened. */
  #wrap(error: unknown): unknown {
    if (!(error instanceof ServerError) || ![136, 280, 286, 47].includes(error.code)) return error;
    const prefix = this.#firstBatch
      ? 'PlanExecutor error during aggregation :: caused by :: '
      : 'Executor error during getMore :: caused by :: ';
    return new ServerError(error.code, prefix + error.message, {
      codeName: error.codeName,
      labels: error.labels,
      extra: error.extra
    });
  }
}

/** The event with the id its operation's images are filed under (its collection's UUID). */
function withImageId(
  event: StreamEvent,
  op: BDoc,
  entryTs: Timestamp,
  applyOpsIndex: number
): StreamEvent {
  const ui = op.get('ui');
  if (!(ui instanceof Binary)) return event;
  return { ...event, imageId: { ui, ts: entryTs, applyOpsIndex } };
}

/** BSONObj::toString style for the error message (`{ _data: "…" }`). */
function shellForm(value: BValue): string {
  if (isDoc(value)) {
    const fields = [...value].map(([k, v]) => `${k}: ${shellForm(v)}`);
    return fields.length === 0 ? '{}' : `{ ${fields.join(', ')} }`;
  }
  if (typeof value === 'string') return `"${value}"`;
  return String(value);
}
