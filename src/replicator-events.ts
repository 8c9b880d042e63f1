/**
 * The events of {@link Replicator} and the payloads it adds to its stages' own.
 */
import { type Timestamp } from 'mongodb';

import { type AppliedBatchEvent, type ApplierConflictEvent } from './apply/hashed-applier-pool.js';
import { type UniqueIndexEvent } from './apply/unique-guard.js';
import { type ReplicationPhase } from './checkpoint/checkpoint.js';
import { type LeaseHolderInfo } from './errors.js';
import { type LagEvent } from './events.js';
import { type SkippedChangeEvent } from './fetch/change-event-groups.js';
import { type CopyProgressEvent } from './full/collection-executor.js';
import { type StageEvents } from './lifecycle/stage.js';

/**
 * A checkpoint was written.
 * @public
 */
export interface CheckpointEvent {
  /** The checkpoint's name. */
  readonly name: string;
  /** The optime it records: replication resumes after it. */
  readonly optime: Timestamp;
  /** When it was written. */
  readonly savedAt: Date;
}

/**
 * The replicator entered a phase: `full` (copying), `catchup` (applying what was written during
 * the copy), `incr` (tailing).
 * @public
 */
export interface PhaseEvent {
  /** The phase entered. */
  readonly phase: ReplicationPhase;
  /** The optime the phase starts from, when it has one (catch-up starts at `fullBeginTs`). */
  readonly optime?: Timestamp;
}

/**
 * The checkpoint's lease changed hands: this replicator `acquired` it, stands by because another
 * one holds it (`standby`, sent again when the holder changes), `lost` it (it stopped writing),
 * or `released` it on stop.
 * @public
 */
export interface LeaseEvent {
  /** What happened. */
  readonly action: 'acquired' | 'standby' | 'lost' | 'released';
  /** The checkpoint name. */
  readonly name: string;
  /** The holder: this replicator, except for `standby` and for a `lost` lease taken over. */
  readonly holder: LeaseHolderInfo | undefined;
}

/**
 * Events of {@link Replicator}: its own lifecycle plus what its stages report.
 * @public
 */
export interface ReplicatorEvents extends StageEvents {
  /** Full copy progress of one target namespace (documents, bytes, ranges, rate, ETA). */
  progress: (event: CopyProgressEvent) => void;
  /** A phase began. */
  phase: (event: PhaseEvent) => void;
  /** A batch was applied on the target (every lane finished it). */
  batch: (event: AppliedBatchEvent) => void;
  /** Change streams: an event had nothing to apply on the target (it is not dropped silently). */
  skipped: (event: SkippedChangeEvent) => void;
  /** An update or delete found no document on the target after catch-up. */
  conflict: (event: ApplierConflictEvent) => void;
  /** Replication lag: the source's newest optime against the last applied one. */
  lag: (event: LagEvent) => void;
  /** A checkpoint was written. */
  checkpoint: (event: CheckpointEvent) => void;
  /**
   * A unique secondary index of the target was relaxed (non-unique while the target may be
   * inconsistent: during a copy and its catch-up, or after a conflict), enforced again once the
   * target is consistent, or left relaxed by `uniqueConflictPolicy: 'ignore'`.
   */
  uniqueIndex: (event: UniqueIndexEvent) => void;
  /** The checkpoint's lease was acquired, waited for, lost or released. */
  lease: (event: LeaseEvent) => void;
}
