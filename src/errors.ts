/**
 * The error tree of mongo-replicate: one base class with a stable `code`, the namespace and optime
 * involved, and whether retrying can help.
 */
import { type Timestamp } from 'mongodb';

/**
 * Stable error codes. A frozen object plus a same-named union type, so hosts can switch on
 * `error.code` without importing an enum.
 * @public
 */
export const ReplicationErrorCode = Object.freeze({
  /** A configuration value is invalid; raised before anything is written. */
  InvalidConfig: 'MR_INVALID_CONFIG',
  /** Reading from the source failed. */
  SourceRead: 'MR_SOURCE_READ',
  /** The resume point is no longer in the source's oplog. */
  OplogStartMissing: 'MR_OPLOG_START_MISSING',
  /** Writing to the target failed. */
  TargetWrite: 'MR_TARGET_WRITE',
  /** An oplog entry the applier does not understand; never skipped silently. */
  UnsupportedOplogEntry: 'MR_UNSUPPORTED_OPLOG_ENTRY',
  /** An update or delete found no document after catch-up, and the policy says to stop. */
  ApplyConflict: 'MR_APPLY_CONFLICT',
  /** Reading, writing or decoding a checkpoint failed. */
  Checkpoint: 'MR_CHECKPOINT',
  /** Retries of a retryable failure ran out. */
  RetriesExhausted: 'MR_RETRIES_EXHAUSTED',
  /** The on-disk oplog spool of a full copy is corrupt, misused or could not be written. */
  Spool: 'MR_SPOOL',
  /** A target namespace already exists in a state the configured policy may not use. */
  TargetExists: 'MR_TARGET_EXISTS',
  /** A method was called in a lifecycle state that does not allow it. */
  InvalidState: 'MR_INVALID_STATE',
  /** Another replicator holds the lease of the checkpoint. */
  LeaseHeld: 'MR_LEASE_HELD',
  /** This replicator lost the lease of its checkpoint: it stopped writing. */
  LeaseLost: 'MR_LEASE_LOST'
} as const);

/**
 * One of the values of {@link (ReplicationErrorCode:variable)}.
 * @public
 */
export type ReplicationErrorCode = (typeof ReplicationErrorCode)[keyof typeof ReplicationErrorCode];

/**
 * Details every {@link ReplicationError} may carry.
 * @public
 */
export interface ReplicationErrorOptions {
  /** The `db.collection` the failure concerns, when there is one. */
  readonly namespace?: string;
  /** The oplog position (optime) the failure concerns, when there is one. */
  readonly optime?: Timestamp;
  /** What the operator should do about it; appended to the message. */
  readonly hint?: string;
  /** The underlying error. */
  readonly cause?: unknown;
}

const BRAND = Symbol.for('mongo-replicate.ReplicationError');

/**
 * Base class of every error mongo-replicate raises.
 *
 * @remarks
 * Constructors are public so the trimmed type declarations stay correct, but they are not covered
 * by semver: construct these only in tests.
 * @public
 */
export class ReplicationError extends Error {
  /** Stable machine-readable code. */
  readonly code: ReplicationErrorCode;
  /** Whether trying the same operation again may succeed. */
  readonly retryable: boolean;
  /** The namespace involved, if any. */
  readonly namespace: string | undefined;
  /** The optime involved, if any. */
  readonly optime: Timestamp | undefined;

  constructor(
    code: ReplicationErrorCode,
    message: string,
    retryable: boolean,
    options: ReplicationErrorOptions = {}
  ) {
    super(options.hint ? `${message}. ${options.hint}` : message, { cause: options.cause });
    this.code = code;
    this.retryable = retryable;
    this.namespace = options.namespace;
    this.optime = options.optime;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'ReplicationError';
  }

  /**
   * True for any mongo-replicate error, even one created by another loaded copy of the package
   * (where `instanceof` would fail).
   */
  static is(value: unknown): value is ReplicationError {
    return typeof value === 'object' && value !== null && BRAND in value;
  }
}

/**
 * A configuration value is invalid. Thrown by constructors, before any I/O.
 * @public
 */
export class InvalidConfigError extends ReplicationError {
  /** The option path that is wrong, such as `filter.include[2]`. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(ReplicationErrorCode.InvalidConfig, `Invalid option "${field}": ${message}`, false);
    this.field = field;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'InvalidConfigError';
  }
}

/**
 * Reading from the source failed (a network error, a step-down, a cursor that died).
 * @public
 */
export class SourceReadError extends ReplicationError {
  constructor(message: string, retryable: boolean, options: ReplicationErrorOptions = {}) {
    super(ReplicationErrorCode.SourceRead, message, retryable, options);
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'SourceReadError';
  }
}

/**
 * The resume point is no longer in the source's oplog (or change-stream history): continuing
 * would silently skip writes, so replication stops.
 * @public
 */
export class OplogStartMissingError extends ReplicationError {
  /** How far the resume point is behind the oldest entry the source still has, in seconds. */
  readonly behindSeconds: number;

  constructor(message: string, behindSeconds: number, options: ReplicationErrorOptions = {}) {
    super(ReplicationErrorCode.OplogStartMissing, message, false, options);
    this.behindSeconds = behindSeconds;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'OplogStartMissingError';
  }
}

/**
 * Writing to the target failed.
 * @public
 */
export class TargetWriteError extends ReplicationError {
  constructor(message: string, retryable: boolean, options: ReplicationErrorOptions = {}) {
    super(ReplicationErrorCode.TargetWrite, message, retryable, options);
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'TargetWriteError';
  }
}

/**
 * An oplog entry the applier does not understand (or a malformed one). Never skipped silently.
 * @public
 */
export class UnsupportedOplogEntryError extends ReplicationError {
  /** The entry's `op` field (`i`, `u`, `d`, `c`, `n`), if it had one. */
  readonly op: string | undefined;

  constructor(message: string, op: string | undefined, options: ReplicationErrorOptions = {}) {
    super(ReplicationErrorCode.UnsupportedOplogEntry, message, false, options);
    this.op = op;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'UnsupportedOplogEntryError';
  }
}

/**
 * An update or delete matched no document on the target after catch-up, and the conflict policy
 * is `'fail'`.
 * @public
 */
export class ApplyConflictError extends ReplicationError {
  constructor(message: string, options: ReplicationErrorOptions = {}) {
    super(ReplicationErrorCode.ApplyConflict, message, false, options);
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'ApplyConflictError';
  }
}

/**
 * Reading, writing or decoding a checkpoint failed.
 * @public
 */
export class CheckpointError extends ReplicationError {
  constructor(message: string, retryable: boolean, options: ReplicationErrorOptions = {}) {
    super(ReplicationErrorCode.Checkpoint, message, retryable, options);
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'CheckpointError';
  }
}

/**
 * A retryable failure kept failing until the retry budget ran out; `cause` is the last error.
 * @public
 */
export class RetriesExhaustedError extends ReplicationError {
  /** How many attempts were made. */
  readonly attempts: number;
  /** How long the attempts took in all, in milliseconds. */
  readonly elapsedMs: number;

  constructor(
    message: string,
    attempts: number,
    elapsedMs: number,
    options: ReplicationErrorOptions = {}
  ) {
    super(ReplicationErrorCode.RetriesExhausted, message, false, options);
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'RetriesExhaustedError';
  }
}

/**
 * The on-disk oplog spool that holds the source's oplog during a full copy failed: a segment is
 * corrupt, entries were appended out of order, or a read or write of its files failed.
 *
 * @remarks
 * A corrupt spool cannot be repaired: entries in it are lost, so the copy must start over.
 * @public
 */
export class SpoolError extends ReplicationError {
  /** The spool file the failure concerns, when there is one. */
  readonly path: string | undefined;

  constructor(message: string, options: ReplicationErrorOptions & { readonly path?: string } = {}) {
    super(ReplicationErrorCode.Spool, message, false, options);
    this.path = options.path;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'SpoolError';
  }
}

/**
 * A namespace the full copy would write already exists on the target, and the `onExistingTarget`
 * policy does not allow using it: it holds documents (`reason: 'notEmpty'`, policy `'fail'`), or
 * it was created with other options or as another kind (`reason: 'incompatible'`, any policy but
 * `'drop'`). Raised before anything is written.
 * @public
 */
export class TargetExistsError extends ReplicationError {
  /** Why the existing namespace cannot be used. */
  readonly reason: 'notEmpty' | 'incompatible';

  constructor(
    message: string,
    reason: 'notEmpty' | 'incompatible',
    options: ReplicationErrorOptions = {}
  ) {
    super(ReplicationErrorCode.TargetExists, message, false, options);
    this.reason = reason;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'TargetExistsError';
  }
}

/**
 * A method was called in a lifecycle state that does not allow it, such as `fence()` on a
 * replicator that is not running. Nothing was done.
 * @public
 */
export class InvalidStateError extends ReplicationError {
  /** The state the object was in. */
  readonly state: string;

  constructor(message: string, state: string, options: ReplicationErrorOptions = {}) {
    super(ReplicationErrorCode.InvalidState, message, false, options);
    this.state = state;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'InvalidStateError';
  }
}

/**
 * Who holds a checkpoint's lease, as errors, events and the status report it (no secrets: a host
 * name, a process id and times).
 * @public
 */
export interface LeaseHolderInfo {
  /** The holder's host name. */
  readonly host: string;
  /** The holder's process id on that host. */
  readonly pid: number;
  /** When it took the lease. */
  readonly since: Date;
  /** When the lease expires unless renewed (the store's clock). */
  readonly expiresAt: Date;
  /** The lease's fencing token: it grows with every new holder. */
  readonly token: number;
}

function describeHolder(holder: LeaseHolderInfo): string {
  return `process ${holder.pid} on ${holder.host} (since ${holder.since.toISOString()}, lease expires ${holder.expiresAt.toISOString()})`;
}

/**
 * Another replicator holds the lease of this checkpoint name: two replicators applying under one
 * checkpoint would overwrite each other's position. Raised at start, before anything is written.
 * @public
 */
export class LeaseHeldError extends ReplicationError {
  /** The current holder. */
  readonly holder: LeaseHolderInfo;

  constructor(
    checkpointName: string,
    holder: LeaseHolderInfo,
    options: ReplicationErrorOptions = {}
  ) {
    super(
      ReplicationErrorCode.LeaseHeld,
      `Checkpoint "${checkpointName}" is held by ${describeHolder(holder)}`,
      false,
      {
        hint: 'Stop that replicator first, use another checkpoint name, or start this one with standby: true (--standby) to take over when the holder stops renewing its lease',
        ...options
      }
    );
    this.holder = holder;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'LeaseHeldError';
  }
}

/**
 * This replicator no longer holds the lease of its checkpoint: it could not renew it in time
 * (the store was unreachable, or the process was paused), or another replicator took it over.
 * It made no write after it knew, and its checkpoint saves are refused by the store.
 * @public
 */
export class LeaseLostError extends ReplicationError {
  /** The new holder, when one is known. */
  readonly holder: LeaseHolderInfo | undefined;

  constructor(message: string, holder?: LeaseHolderInfo, options: ReplicationErrorOptions = {}) {
    super(
      ReplicationErrorCode.LeaseLost,
      holder ? `${message}; it is held by ${describeHolder(holder)}` : message,
      false,
      {
        hint: 'Another replicator may continue the job under this checkpoint (a standby takes over by itself). Restart this one only if none does: it resumes from the checkpoint',
        ...options
      }
    );
    this.holder = holder;
  }

  /** The class name, kept stable through minification. */
  override get name(): string {
    return 'LeaseLostError';
  }
}
