/**
 * Errors classified by side, in one place: whatever failed while reading the source becomes a
 * {@link SourceReadError}, while writing the target a {@link TargetWriteError}, in a checkpoint
 * store a {@link CheckpointError}. Typed errors pass through unchanged.
 *
 * Messages say what was being done and name the failure by its server code or class, never by
 * the server's text: that text can quote document values (a duplicate key error quotes the key).
 * The driver error stays available as `cause`, with credentials scrubbed; whether to retry and
 * the hint come from {@link classifyError}.
 */
import { type Timestamp } from 'mongodb';

import { CheckpointError, ReplicationError, SourceReadError, TargetWriteError } from '../errors.js';
import { redactError, redactText } from '../logger.js';
import { classifyError } from './classify-error.js';

/**
 * Where a failure happened.
 * @internal
 */
export type FailureSide = 'source' | 'target' | 'checkpoint';

/**
 * Details of {@link sideError}.
 * @internal
 */
export interface SideErrorDetails {
  /** What was being done, as the start of the message ("Reading the source oplog"). */
  readonly action: string;
  readonly namespace?: string | undefined;
  readonly optime?: Timestamp | undefined;
  /** Overrides the classifier's hint. */
  readonly hint?: string | undefined;
  /** Overrides the classifier's verdict. */
  readonly retryable?: boolean | undefined;
}

/**
 * ` (server error 85 IndexOptionsConflict)`, ` (MongoNetworkError)` or nothing.
 * @internal
 */
export function describeFailure(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const { code, codeName, name } = error as { code?: unknown; codeName?: unknown; name?: unknown };
  if (typeof code === 'number') {
    return ` (server error ${code}${typeof codeName === 'string' ? ` ${codeName}` : ''})`;
  }
  return typeof name === 'string' && name !== 'Error' ? ` (${name})` : '';
}

/**
 * The numeric server code of a driver error, if it has one.
 * @internal
 */
export function serverCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * `error` as the typed error of `side` (see the file header); a {@link ReplicationError} is
 * returned as it is.
 * @internal
 */
export function sideError(
  side: FailureSide,
  error: unknown,
  details: SideErrorDetails
): ReplicationError {
  if (ReplicationError.is(error)) return error;
  const verdict = classifyError(error);
  const retryable = details.retryable ?? verdict.retryable;
  const message = `${details.action} failed${describeFailure(error)}`;
  const options = {
    ...(details.namespace === undefined ? {} : { namespace: details.namespace }),
    ...(details.optime === undefined ? {} : { optime: details.optime }),
    hint: details.hint ?? verdict.hint,
    cause: redactError(error)
  };
  switch (side) {
    case 'source':
      return new SourceReadError(message, retryable, options);
    case 'target':
      return new TargetWriteError(message, retryable, options);
    case 'checkpoint':
      return new CheckpointError(message, retryable, options);
  }
}

/**
 * The first failure of an `AggregateError` (several parts failed at once), reporting each other
 * one's message to `onOther`; any other error as it is.
 * @internal
 */
export function firstFailure(error: unknown, onOther: (message: string) => void): unknown {
  if (!(error instanceof AggregateError) || error.errors.length === 0) return error;
  const [first, ...others] = error.errors as unknown[];
  for (const other of others) {
    onOther(redactText(other instanceof Error ? other.message : String(other)));
  }
  return firstFailure(first, onOther);
}
