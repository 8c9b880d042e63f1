/**
 * Change events → the synthetic oplog entries the rest of the pipeline applies.
 *
 * Every event a replica set emits at one cluster time comes from one oplog entry: a single write,
 * or an `applyOps` (a transaction, a batched delete) unwound into several events. Such a group
 * becomes ONE entry at that time — the write itself, or an `applyOps` of the group's operations
 * carrying the transaction's `lsid`/`txnNumber` — so optimes stay unique and ordered (the spool,
 * the batcher and the checkpoint rely on that), and a transaction can be applied whole.
 *
 * Each synthetic entry carries a top-level `resumeToken` field (which real oplog entries never
 * have): the token of the group's last event, where a restart resumes. It is part of the entry's
 * document so that it survives the disk spool of mode `all`.
 */
import { BSON, type Document, type Timestamp } from 'mongodb';

import { UnsupportedOplogEntryError } from '../errors.js';
import { changeEventToOps } from '../oplog/change-events.js';
import { isDocument, parseOplogEntry } from '../oplog/oplog-entry.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';

/**
 * A change event the fetcher could not turn into a write, and why (it is reported, never
 * dropped silently).
 * @public
 */
export interface SkippedChangeEvent {
  /** The stage that read it. */
  readonly stage: string;
  /** The event's `operationType`. */
  readonly operationType: string;
  /** `db.collection` (or `db`) of the event, when it has one. */
  readonly namespace: string | undefined;
  /** The event's cluster time. */
  readonly optime: Timestamp;
  /** Why nothing is applied for it. */
  readonly reason: string;
}

/** The namespace of an event's `ns` field. */
function namespaceOf(event: Document): string | undefined {
  const ns: unknown = event.ns;
  if (!isDocument(ns) || typeof ns.db !== 'string') return undefined;
  return typeof ns.coll === 'string' ? `${ns.db}.${ns.coll}` : ns.db;
}

function clusterTimeOf(event: Document): Timestamp {
  const ts: unknown = event.clusterTime;
  if (
    ts === null ||
    typeof ts !== 'object' ||
    (ts as { _bsontype?: unknown })._bsontype !== 'Timestamp'
  ) {
    throw new UnsupportedOplogEntryError('A change event has no clusterTime Timestamp', undefined, {
      ...(namespaceOf(event) === undefined ? {} : { namespace: namespaceOf(event)! }),
      hint: 'The source must be a MongoDB replica set (6.0 or newer) answering a $changeStream'
    });
  }
  return ts as Timestamp;
}

/**
 * Collects the events of one cluster time and builds their synthetic entry.
 * @internal
 */
export class ChangeEventGroups {
  readonly #onSkip: (skipped: SkippedChangeEvent) => void;
  readonly #stage: string;
  #events: Document[] = [];
  #ts: Timestamp | undefined;

  constructor(stage: string, onSkip: (skipped: SkippedChangeEvent) => void) {
    this.#stage = stage;
    this.#onSkip = onSkip;
  }

  /** True while events wait for the rest of their group. */
  get pending(): boolean {
    return this.#events.length > 0;
  }

  /** The token of the last event taken (delivered or pending). */
  get lastToken(): Document | undefined {
    const last = this.#events.at(-1);
    return last === undefined ? undefined : (last._id as Document);
  }

  /**
   * Takes the next event; returns the previous group's entry when this event starts a new one.
   * @throws {@link UnsupportedOplogEntryError} for an event without a cluster time or token
   */
  add(event: Document): FetchedEntry | undefined {
    const ts = clusterTimeOf(event);
    if (!isDocument(event._id)) {
      throw new UnsupportedOplogEntryError('A change event has no resume token (_id)', undefined, {
        optime: ts,
        hint: 'Do not $project away _id in a change stream pipeline'
      });
    }
    const done = this.#ts !== undefined && !this.#ts.equals(ts) ? this.flush() : undefined;
    this.#ts = ts;
    this.#events.push(event);
    return done;
  }

  /** Forgets the group being collected (it will be read again after a re-open). */
  discard(): void {
    this.#events = [];
    this.#ts = undefined;
  }

  /** Ends the group being collected and returns its entry, if any. */
  flush(): FetchedEntry | undefined {
    const events = this.#events;
    const ts = this.#ts;
    this.#events = [];
    this.#ts = undefined;
    if (events.length === 0 || ts === undefined) return undefined;
    return this.#entryOf(events, ts);
  }

  #entryOf(events: Document[], ts: Timestamp): FetchedEntry {
    const ops: Document[] = [];
    for (const event of events) {
      const converted = changeEventToOps(event);
      if (converted.kind === 'ops') ops.push(...converted.ops);
      else {
        this.#onSkip({
          stage: this.#stage,
          operationType: String(event.operationType),
          namespace: namespaceOf(event),
          optime: ts,
          reason: converted.reason
        });
      }
    }
    const last = events.at(-1)!;
    const session = events.find(event => event.lsid !== undefined);
    const common: Document = {
      ts,
      ...(last.wallTime instanceof Date ? { wall: last.wallTime } : {})
    };
    let raw: Document;
    if (ops.length === 0) {
      raw = { ...common, op: 'n', ns: '', o: { msg: 'change events with nothing to apply' } };
    } else if (ops.length === 1 && session === undefined) {
      raw = { ...ops[0], ...common };
    } else {
      raw = {
        ...common,
        op: 'c',
        ns: 'admin.$cmd',
        o: { applyOps: ops },
        ...(session ? { lsid: session.lsid as Document, txnNumber: session.txnNumber } : {})
      };
    }
    raw.resumeToken = last._id as Document;
    return {
      entry: parseOplogEntry(raw),
      bytes: BSON.calculateObjectSize(raw),
      resumeToken: raw.resumeToken as Document
    };
  }
}

/**
 * The entry that only moves the resume point forward on a quiet stream: a noop at `ts` carrying
 * the post-batch resume token.
 * @internal
 */
export function progressEntry(ts: Timestamp, token: Document): FetchedEntry {
  const raw: Document = {
    ts,
    op: 'n',
    ns: '',
    o: { msg: 'change stream progress' },
    resumeToken: token
  };
  return { entry: parseOplogEntry(raw), bytes: BSON.calculateObjectSize(raw), resumeToken: token };
}
