/**
 * The error tree of mongo-replicate: one base class with a stable `code`, the namespace and optime
 * involved, and whether retrying can help.
 */
import { type Timestamp } from 'bson';

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
  RetriesExhausted: 'MR_RETRIES_EXHAUSTED'
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
