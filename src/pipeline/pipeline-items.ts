/**
 * What flows between the incremental-sync stages: fetched oplog entries (OplogFetcher →
 * ReplBatcher) and batches ready to apply (ReplBatcher → HashedApplierPool).
 */
import { type Document, type Timestamp } from 'mongodb';

import { type TargetCommand } from '../oplog/ddl-ops.js';
import {
  type CommandEntry,
  type DeleteEntry,
  type InsertEntry,
  type OplogEntry,
  type OplogNumber,
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
  /**
   * The change-stream resume token after this entry: resuming the stream with it continues
   * with the next entry. Only entries from a ChangeStreamFetcher have it; oplog entries never do.
   */
  readonly resumeToken?: Document;
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
 * Operations `filter.skip` kept from the target, by kind (inside transactions too).
 * @public
 */
export interface SkippedOperations {
  /** Inserts not applied. */
  readonly inserts: number;
  /** Updates (and replacements) not applied. */
  readonly updates: number;
  /** Deletes not applied. */
  readonly deletes: number;
  /** DDL commands not run. */
  readonly commands: number;
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
  /**
   * Source entries this batch covers that had nothing to apply (noops, filtered namespaces,
   * fromMigrate, and the operations `filter.skip` names).
   */
  readonly skipped: number;
  /** Of `skipped`, the operations `filter.skip` kept from the target; absent when none. */
  readonly skippedOperations?: SkippedOperations;
  /**
   * The change-stream resume token that names the same position as `checkpointOptime`: present
   * when the input came from a change stream and `checkpointOptime` is the optime of the last
   * entry the batcher took (it is absent while a transaction chain holds the checkpoint back).
   */
  readonly resumeToken?: Document;
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
  /**
   * `renameCollection` while `filter.skip` keeps dropped collections (`drop`): a collection the
   * rename meets under its new name is kept, and the renamed one's documents are merged into it
   * (the command then has `dropTarget: false`). Absent otherwise.
   */
  readonly mergeIntoExisting?: true;
}

/**
 * One source transaction (`transactions: 'preserve'`): its writes, applied after every earlier
 * batch in one target transaction, so that a reader of the target sees all of it or none.
 *
 * @remarks
 * Only a real transaction travels this way: the operations one entry with a session (`lsid`)
 * releases, i.e. a one-entry `applyOps`, or a `partialTxn` chain or prepared transaction at its
 * commit. An `applyOps` without a session (such as a batched delete) is flattened into a
 * {@link CrudBatch}. A command inside a transaction (a collection created in it) runs alone as a
 * {@link DdlBatch}, splitting the transaction into a `txn` batch before it and one after it: the
 * transaction's atomicity on the target is lost around that command.
 * @public
 */
export interface TxnBatch extends ApplyBatchBase {
  /** Discriminant. */
  readonly kind: 'txn';
  /** The writes in source order (namespaces renamed, filtered ones counted in `skipped`). */
  readonly ops: readonly CrudOp[];
  /** Total BSON bytes of the writes. */
  readonly bytes: number;
  /** The source transaction's logical session id. */
  readonly lsid?: Document;
  /** The source transaction's number within `lsid`. */
  readonly txnNumber?: OplogNumber;
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
export type ApplyBatch = CrudBatch | DdlBatch | TxnBatch | ProgressBatch;
