/**
 * What flows between the incremental-sync stages: fetched oplog entries (OplogFetcher →
 * ReplBatcher) and batches ready to apply (ReplBatcher → HashedApplierPool).
 */
import { type Timestamp } from 'mongodb';

import { type TargetCommand } from '../oplog/ddl-ops.js';
import {
  type CommandEntry,
  type DeleteEntry,
  type InsertEntry,
  type OplogEntry,
  type UpdateEntry
} from '../oplog/oplog-entry.js';

/**
 * One oplog entry as the fetcher read it, with its BSON size for the queues' byte bounds.
 * @public
 */
export interface FetchedEntry {
  /** The parsed entry. */
  readonly entry: OplogEntry;
  /** Its size in BSON bytes. */
  readonly bytes: number;
}

/**
 * One document write to apply, already renamed by the namespace filter.
 * @public
 */
export interface CrudOp {
  /** The source entry (its `ns` is the source namespace). */
  readonly entry: InsertEntry | UpdateEntry | DeleteEntry;
  /** The namespace to write to on the target. */
  readonly targetNs: string;
  /** The document's `_id` (from `o` for inserts and deletes, `o2` for updates). */
  readonly id: unknown;
}

/**
 * Fields every {@link ApplyBatch} has.
 * @public
 */
export interface ApplyBatchBase {
  /** Optime of the last source entry this batch covers (applied, filtered or noop). */
  readonly lastOptime: Timestamp;
  /**
   * The optime a checkpoint may record once this batch (and every earlier one) is applied: a
   * restart resumes after it. Usually `lastOptime`; earlier while a multi-entry transaction is
   * still being assembled, so that a restart re-reads its first entries.
   */
  readonly checkpointOptime: Timestamp;
  /** Source entries this batch covers that had nothing to apply (noops, filtered, fromMigrate). */
  readonly skipped: number;
}

/**
 * Document writes, applied by the lanes in parallel (per-document order kept).
 * @public
 */
export interface CrudBatch extends ApplyBatchBase {
  /** Discriminant. */
  readonly kind: 'crud';
  /** The writes in source order. */
  readonly ops: readonly CrudOp[];
  /** Total BSON bytes of the source entries. */
  readonly bytes: number;
}

/**
 * One DDL command, applied alone after every earlier batch.
 * @public
 */
export interface DdlBatch extends ApplyBatchBase {
  /** Discriminant. */
  readonly kind: 'ddl';
  /** The source entry. */
  readonly entry: CommandEntry;
  /** The command to run on the target (namespaces already renamed). */
  readonly command: TargetCommand;
}

/**
 * Nothing to write, only progress (noops, filtered entries): advances the checkpoint on quiet or
 * filtered streams.
 * @public
 */
export interface ProgressBatch extends ApplyBatchBase {
  /** Discriminant. */
  readonly kind: 'progress';
}

/**
 * A batch the {@link HashedApplierPool} applies as one unit.
 * @public
 */
export type ApplyBatch = CrudBatch | DdlBatch | ProgressBatch;
