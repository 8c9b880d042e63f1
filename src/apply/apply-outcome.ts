/**
 * What applying writes produces, shared by the applier lanes and the transaction applier: the
 * counts of a batch, and the conflicts (updates or deletes that matched nothing after catch-up)
 * with the policy that handles them.
 */
import { type Timestamp } from 'mongodb';

/**
 * What the applier does with an update or delete that matches no document after catch-up:
 * `ignore` counts it and emits a `conflict` event; `upsert` copies the document's current state
 * from the source (or deletes it on the target if the source no longer has it); `fail` stops
 * replication with an {@link ApplyConflictError}.
 * @public
 */
export type ConflictPolicy = 'ignore' | 'upsert' | 'fail';

/**
 * What was done about one conflict: `ignored`, `upserted` (re-copied from the source),
 * `deleted` (gone on the source, so removed on the target), `failed` (replication stops).
 * @public
 */
export type ConflictAction = 'ignored' | 'upserted' | 'deleted' | 'failed';

/**
 * Payload of the `conflict` event: after catch-up, an update or delete matched no document.
 * @public
 */
export interface ApplierConflictEvent {
  /** The target namespace written to. */
  readonly namespace: string;
  /** The op that missed: `u` update, `d` delete. */
  readonly op: 'u' | 'd';
  /**
   * The BSON type of the document's `_id` (`string`, `ObjectId`, …), never its value: an `_id`
   * is document data. The namespace and optime identify the source oplog entry.
   */
  readonly idType: string;
  /** The op's optime. */
  readonly optime: Timestamp;
  /** The policy in force. */
  readonly policy: ConflictPolicy;
  /** What the applier did about it. */
  readonly action: ConflictAction;
}

/**
 * Counts of what a lane (or a batch) applied.
 * @public
 */
export interface ApplyCounts {
  /** Insert ops applied. */
  inserts: number;
  /** Update ops applied (operator, diff and replacement forms). */
  updates: number;
  /** Delete ops applied. */
  deletes: number;
  /** Inserts that hit an existing `_id` and were applied as replace-upserts instead. */
  upserts: number;
  /** Updates or deletes that matched nothing after catch-up (handled per policy). */
  conflicts: number;
  /** Updates or deletes that matched nothing during catch-up, or on a replayed run: expected. */
  expectedMissing: number;
}

/**
 * A zeroed {@link ApplyCounts}.
 * @internal
 */
export function emptyCounts(): ApplyCounts {
  return { inserts: 0, updates: 0, deletes: 0, upserts: 0, conflicts: 0, expectedMissing: 0 };
}

const COUNT_KEYS = Object.keys(emptyCounts()) as readonly (keyof ApplyCounts)[];

/**
 * Adds the counts of `more` into `into` (other fields of `into` are left alone).
 * @internal
 */
export function addCounts(into: ApplyCounts, more: Readonly<ApplyCounts>): void {
  for (const key of COUNT_KEYS) into[key] += more[key];
}
