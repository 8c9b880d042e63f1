/**
 * The shape of {@link ReplicatorMonitor.status}: a JSON-ready snapshot of a running Replicator,
 * modelled on mongosync's `GET /api/v1/progress` (`state`, `canCommit`, `lagTimeSeconds`,
 * `collectionCopy`, `directionMapping`, `totalEventsApplied`) and adapted to this library's
 * phases. Everything here is a plain string, number, boolean, null, array or object, so
 * `JSON.stringify` reproduces it exactly; nothing in it can hold a credential.
 */
import { type UniqueIndexRef } from '../catalog/unique-indexes.js';
import { type ReplicationPhase } from '../checkpoint/checkpoint.js';
import { type HeldBack, type StageState } from '../events.js';
import { type SkippedOperations } from '../pipeline/pipeline-items.js';
import { type FetchMethod } from '../replicator-options.js';

/**
 * An optime in JSON: the Timestamp's seconds and increment, and the seconds as an ISO date.
 * @public
 */
export interface OptimeStatus {
  /** Seconds since the Unix epoch (the Timestamp's high part). */
  readonly t: number;
  /** Ordinal within that second (the Timestamp's low part). */
  readonly i: number;
  /** `t` as an ISO 8601 date, for people reading the JSON. */
  readonly time: string;
}

/**
 * The hosts a replicator reads from and writes to, like mongosync's `directionMapping`. Only
 * host names, ports and the replica set name: never user names, passwords or URI options.
 * @public
 */
export interface DirectionMapping {
  /** The source, as `replicaSet/host1:port,host2:port` (or the hosts alone without a set name). */
  readonly source: string;
  /** The target, in the same form. */
  readonly target: string;
}

/**
 * The last checkpoint written.
 * @public
 */
export interface CheckpointStatus {
  /** The optime it records: replication resumes after it. */
  readonly optime: OptimeStatus;
  /** When it was written, as an ISO 8601 date. */
  readonly savedAt: string;
}

/**
 * Full copy progress of one target namespace, from its latest `progress` event.
 * @public
 */
export interface NamespaceCopyStatus {
  /** The target namespace. */
  readonly namespace: string;
  /** The source namespace. */
  readonly sourceNs: string;
  /** Documents copied into it in this run. */
  readonly documents: number;
  /** BSON bytes copied into it in this run. */
  readonly bytes: number;
  /** The splitter's estimate of its documents. */
  readonly estimatedDocuments: number;
  /** Ranges fully copied. */
  readonly rangesDone: number;
  /** Ranges of this namespace in this run. */
  readonly rangesTotal: number;
  /** Documents per second, recently. */
  readonly documentsPerSecond: number;
  /** Bytes per second, recently. */
  readonly bytesPerSecond: number;
  /** Estimated milliseconds until it is copied; null while no rate is known. */
  readonly etaMs: number | null;
}

/**
 * Full copy progress of the whole run (mongosync's `collectionCopy`).
 * @public
 */
export interface CopyStatus {
  /** Documents copied in this run, every namespace together. */
  readonly documentsCopied: number;
  /** BSON bytes copied in this run (mongosync's `estimatedCopiedBytes`). */
  readonly bytesCopied: number;
  /** The splitter's estimate of every document this run copies. */
  readonly estimatedDocuments: number;
  /**
   * Estimated bytes of the whole copy (mongosync's `estimatedTotalBytes`): the average size of
   * the documents copied so far times `estimatedDocuments` (or `documentsCopied`, when the
   * estimate fell short). Absent until a document is copied.
   */
  readonly estimatedBytes?: number;
  /** Ranges fully copied, over the namespaces that reported progress. */
  readonly rangesDone: number;
  /** Ranges of the namespaces that reported progress. */
  readonly rangesTotal: number;
  /** Estimated milliseconds until everything is copied; null while no rate is known. */
  readonly etaMs: number | null;
  /** Each target namespace that reported progress, in the order they first did. */
  readonly namespaces: readonly NamespaceCopyStatus[];
}

/**
 * What the incremental side applied on the target (summed `batch` events, plus `conflict` and
 * `skipped` events).
 * @public
 */
export interface AppliedStatus {
  /** Batches applied in every lane. */
  readonly batches: number;
  /** Ops written: CRUD ops plus DDL commands (mongosync's `totalEventsApplied`). */
  readonly ops: number;
  /** Insert ops applied. */
  readonly inserts: number;
  /** Update ops applied. */
  readonly updates: number;
  /** Delete ops applied. */
  readonly deletes: number;
  /** DDL commands applied (create, drop, createIndexes…). */
  readonly commands: number;
  /** Inserts that found their `_id` on the target and were applied as replace-upserts. */
  readonly upserts: number;
  /** Updates or deletes that matched nothing during catch-up: expected, not conflicts. */
  readonly expectedMissing: number;
  /** Updates or deletes that matched nothing after catch-up (`conflict` events). */
  readonly conflicts: number;
  /** Change events with nothing to apply on the target (`skipped` events). */
  readonly skippedEvents: number;
  /** Operations `filter.skip` kept from the target, by kind (summed `batch` events). */
  readonly skippedOperations: SkippedOperations;
}

/**
 * The write rate limit and what it does to replication.
 * @public
 */
export interface RateLimitStatus {
  /** The ops limit in force; null: unlimited. */
  readonly opsPerSecond: number | null;
  /** The bytes limit in force; null: unlimited. */
  readonly bytesPerSecond: number | null;
  /** True while writes wait for the limit (and for a second after): it holds replication back. */
  readonly limiting: boolean;
  /** Milliseconds during which writes waited for the limit, in total since the start. */
  readonly heldBackMs: number;
}

/**
 * One error the replicator reported, redacted.
 * @public
 */
export interface RecentError {
  /** When the monitor saw it, as an ISO 8601 date. */
  readonly at: string;
  /** The stage that reported it (`replicator` for a fatal error). */
  readonly stage: string;
  /**
   * A stable code: the `ReplicationError` code (`MR_…`), else the driver's `codeName`, else the
   * error's `code`, else its class name.
   */
  readonly code: string;
  /** The message, with any connection string redacted. */
  readonly message: string;
  /** True for the error that stopped replication; false for a transient one that was retried. */
  readonly fatal: boolean;
}

/**
 * The checkpoint's lease as the replicator last saw it.
 * @public
 */
export interface LeaseStatus {
  /** True while this replicator holds it; false while it stands by, or once it lost it. */
  readonly held: boolean;
  /** What happened last: `acquired`, `standby`, `lost` or `released`. */
  readonly lastAction: 'acquired' | 'standby' | 'lost' | 'released';
  /** The holder as last known: this replicator when held, the other one in standby. */
  readonly holder: {
    readonly host: string;
    readonly pid: number;
    /** ISO 8601. */
    readonly since: string;
    /** ISO 8601; renewals move it on without an event. */
    readonly expiresAt: string;
    readonly token: number;
  } | null;
}

/**
 * A snapshot of a {@link Replicator} for a status page or an API, from
 * {@link ReplicatorMonitor.status}. Counts cover what the monitor saw since it was attached.
 * @public
 */
export interface ReplicatorStatus {
  /** When the snapshot was taken, as an ISO 8601 date. */
  readonly time: string;
  /** The replicator's lifecycle state. */
  readonly state: StageState;
  /** The current phase: `full` (copying), `catchup` or `incr`; null before it is known. */
  readonly phase: ReplicationPhase | null;
  /**
   * Like mongosync's `canCommit`: true while the replicator runs in phase `incr`, that is, any
   * copy is done and what was written during it is applied, so the target follows the source
   * `lagSeconds` behind.
   */
  readonly caughtUp: boolean;
  /** The replication mode. */
  readonly mode: 'full' | 'incr' | 'all';
  /** How the source is read. */
  readonly fetchMethod: FetchMethod;
  /** The checkpoint's name. */
  readonly checkpointName: string;
  /** Which deployments data flows between (hosts only). */
  readonly directionMapping: DirectionMapping;
  /** When the replicator started, as an ISO 8601 date; null if the monitor did not see it. */
  readonly startedAt: string | null;
  /** Seconds the target is behind the source, from the latest `lag` event; null before one. */
  readonly lagSeconds: number | null;
  /**
   * Why the replicator itself holds writes back: `paused` (`pause()`), `rateLimit` (the rate
   * limit is what keeps the target behind); null when it does not.
   */
  readonly heldBack: HeldBack | null;
  /** The write rate limit in force and whether it holds replication back. */
  readonly rateLimit: RateLimitStatus;
  /** The optime of the last batch applied everywhere (or the resume point); null before one. */
  readonly lastAppliedOptime: OptimeStatus | null;
  /** The last checkpoint written while monitored; null before one. */
  readonly lastCheckpoint: CheckpointStatus | null;
  /** Full copy progress; null when no copy progress was reported (mode incr, or not yet). */
  readonly copy: CopyStatus | null;
  /** What was applied from the oplog or change stream. */
  readonly applied: AppliedStatus;
  /**
   * Unique indexes of the target that are non-unique for now ({@link Replicator.relaxedUniqueIndexes}):
   * the target accepts duplicates on them until they are enforced again.
   */
  readonly relaxedUniqueIndexes: readonly UniqueIndexRef[];
  /**
   * Unique indexes `uniqueConflictPolicy: 'ignore'` left non-unique because the target holds
   * duplicate keys (`uniqueIndex` events with action `leftRelaxed`), while monitored.
   */
  readonly uniqueIndexesLeftRelaxed: readonly UniqueIndexRef[];
  /** The checkpoint's lease; null before any `lease` event (or with a store without leases). */
  readonly lease: LeaseStatus | null;
  /** Transient failures that were retried (`retry` events). */
  readonly retries: number;
  /** The most recent errors, transient and fatal, oldest first, redacted. */
  readonly errors: readonly RecentError[];
}
