/**
 * `local.oplog.rs`: a capped, append-only log ordered by `ts`, with no `_id`. It also owns the
 * server's clock (the last `ts`), and wakes tailing cursors and awaitable readers on every append.
 */
import { Long, Timestamp } from 'bson';

import { bsonSizeOnce, keepBytesWhenEncoded } from '../bson/codec.js';
import { type BDoc, compareValues } from '../bson/values.js';

/** One stored oplog entry. `recordId` is its position in natural order, never reused. */
export interface OplogRecord {
  readonly recordId: number;
  readonly ts: Timestamp;
  readonly doc: BDoc;
  readonly size: number;
}

export class Oplog {
  #records: OplogRecord[] = [];
  #head = 0;
  #bytes = 0;
  #nextRecordId = 1;
  #last = new Timestamp({ t: 0, i: 0 });
  #lastWall = new Date(0);
  readonly #listeners = new Set<() => void>();
  #notifyScheduled = false;
  /** The term written into `t`; bumped by a step-up. */
  term = 1;
  /**
   * A logical clock shared with other servers (a sharded cluster's members): timestamps come
   * from it, so they are unique and ordered across the cluster. Undefined on a lone server.
   */
  clock: { next(): Timestamp; readonly last: Timestamp } | undefined;

  constructor(public maxBytes: number) {}

  /** A new strictly increasing timestamp: seconds from the wall clock, an increment within one. */
  nextTimestamp(): Timestamp {
    if (this.clock) return (this.#last = this.clock.next());
    const now = Math.floor(Date.now() / 1000);
    const last = this.#last;
    const ts = now > last.t ? new Timestamp({ t: now, i: 1 }) : nextAfter(last);
    this.#last = ts;
    return ts;
  }

  /** The newest `ts` handed out (the cluster time). */
  get lastTimestamp(): Timestamp {
    return this.#last;
  }

  /** The cluster time to gossip (`$clusterTime`): the shared clock's, else the last `ts`. */
  get clusterTime(): Timestamp {
    return this.clock && compareValues(this.clock.last, this.#last) > 0
      ? this.clock.last
      : this.#last;
  }

  get lastWall(): Date {
    return this.#lastWall;
  }

  get size(): number {
    return this.#records.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Appends an entry. `build` receives the entry's `ts`, `t` and `wall` and returns the document
   * (so callers keep mongod's field order). Returns the stored record.
   */
  append(build: (ts: Timestamp, t: Long, wall: Date) => BDoc): OplogRecord {
    const ts = this.nextTimestamp();
    const wall = new Date();
    this.#lastWall = wall;
    const doc = build(ts, Long.fromNumber(this.term), wall);
    // Stored as BSON, as mongod stores it: tailing cursors copy the bytes out.
    keepBytesWhenEncoded(doc);
    const record: OplogRecord = {
      recordId: this.#nextRecordId++,
      ts,
      doc,
      size: bsonSizeOnce(doc)
    };
    this.#records.push(record);
    this.#bytes += record.size;
    this.#truncate();
    this.#scheduleNotify();
    return record;
  }

  /** Changes the capped size (`replSetResizeOplog`), truncating at once if needed. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.#truncate();
  }

  /** Records in natural (ts) order, oldest first. */
  *records(fromIndex = 0): IterableIterator<OplogRecord> {
    for (let i = this.#head + fromIndex; i < this.#records.length; i++) yield this.#records[i]!;
  }

  /** Records newest first. */
  *recordsReversed(): IterableIterator<OplogRecord> {
    for (let i = this.#records.length - 1; i >= this.#head; i--) yield this.#records[i]!;
  }

  get oldest(): OplogRecord | undefined {
    return this.#records[this.#head];
  }

  get newest(): OplogRecord | undefined {
    return this.size > 0 ? this.#records[this.#records.length - 1] : undefined;
  }

  /** True while the record with this id is still stored (not truncated). */
  contains(recordId: number): boolean {
    const oldest = this.oldest;
    return oldest !== undefined && recordId >= oldest.recordId && recordId < this.#nextRecordId;
  }

  /** Index (relative to the oldest record) of the first record with `ts >= target`. */
  lowerBound(target: Timestamp): number {
    let lo = this.#head;
    let hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareValues(this.#records[mid]!.ts, target) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - this.#head;
  }

  /** Index (relative to the oldest record) of the first record after `recordId`. */
  indexAfter(recordId: number): number {
    const oldest = this.oldest;
    if (!oldest) return 0;
    return Math.max(0, recordId + 1 - oldest.recordId);
  }

  /** Calls `listener` (soon, once per burst) after entries are appended; returns an unsubscribe. */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #scheduleNotify(): void {
    if (this.#notifyScheduled) return;
    this.#notifyScheduled = true;
    // Deferred so that a command appending many entries wakes readers once, after it finished.
    setImmediate(() => {
      this.#notifyScheduled = false;
      for (const listener of [...this.#listeners]) listener();
    });
  }

  #truncate(): void {
    // mongod truncates whole "stones" asynchronously; dropping the oldest entries at once is
    // stricter, which is what tests of "fell off the oplog" want. The newest entry always stays.
    while (this.#bytes > this.maxBytes && this.size > 1) {
      const oldest = this.#records[this.#head]!;
      this.#records[this.#head] = undefined as never;
      this.#head++;
      this.#bytes -= oldest.size;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#records.length) {
      this.#records.splice(0, this.#head);
      this.#head = 0;
    }
  }
}

function nextAfter(last: Timestamp): Timestamp {
  return last.i >= 0xffffffff
    ? new Timestamp({ t: last.t + 1, i: 1 })
    : new Timestamp({ t: last.t, i: last.i + 1 });
}
