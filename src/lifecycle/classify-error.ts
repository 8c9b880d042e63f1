/**
 * Driver error → retryable or fatal, in one table (the pattern of supabase/etl's
 * `error_policy.rs`). The driver has already retried a retryable read or write once before we
 * see an error; what reaches us is what outlasted that: a step-down that took longer, a network
 * partition, a target that is down.
 *
 * The driver's own code sets (`RETRYABLE_READ_ERROR_CODES` and friends) are internal, so the
 * list is kept here, checked against MongoDB's `error_codes.yml`.
 */
import { MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';

import { ReplicationError } from '../errors.js';

/**
 * The verdict of {@link classifyError}.
 * @public
 */
export interface ErrorClassification {
  /** Whether trying again (after a backoff) may succeed. */
  readonly retryable: boolean;
  /** What the failure means and what to do about it, for logs and error messages. */
  readonly hint: string;
}

/**
 * Context for {@link classifyError}.
 * @public
 */
export interface ClassifyErrorOptions {
  /**
   * The error comes from the oplog fetcher's tailable cursor, which can re-open from the last
   * fetched optime, so a lost cursor position (CappedPositionLost) is transient for it.
   * @defaultValue false
   */
  readonly fetcher?: boolean;
}

interface CodeRule {
  readonly name: string;
  readonly retryable: boolean | 'fetcher';
  readonly hint: string;
}

const STEP_DOWN = 'The replica set is electing a new primary; retrying until it has one';
const SHUTDOWN = 'A server is shutting down; retrying against the remaining members';
const NETWORK = 'The server could not be reached; retrying until the network recovers';

/** Server error codes, by number. Anything not listed (and not a network error) is fatal. */
const SERVER_CODES: ReadonlyMap<number, CodeRule> = new Map<number, CodeRule>([
  [6, { name: 'HostUnreachable', retryable: true, hint: NETWORK }],
  [7, { name: 'HostNotFound', retryable: true, hint: NETWORK }],
  [89, { name: 'NetworkTimeout', retryable: true, hint: NETWORK }],
  [91, { name: 'ShutdownInProgress', retryable: true, hint: SHUTDOWN }],
  [189, { name: 'PrimarySteppedDown', retryable: true, hint: STEP_DOWN }],
  [
    262,
    {
      name: 'ExceededTimeLimit',
      retryable: true,
      hint: 'A server-side time limit was hit under load; retrying'
    }
  ],
  [9001, { name: 'SocketException', retryable: true, hint: NETWORK }],
  [10107, { name: 'NotWritablePrimary', retryable: true, hint: STEP_DOWN }],
  [11600, { name: 'InterruptedAtShutdown', retryable: true, hint: SHUTDOWN }],
  [11602, { name: 'InterruptedDueToReplStateChange', retryable: true, hint: STEP_DOWN }],
  [13435, { name: 'NotPrimaryNoSecondaryOk', retryable: true, hint: STEP_DOWN }],
  [13436, { name: 'NotPrimaryOrSecondary', retryable: true, hint: STEP_DOWN }],
  [
    136,
    {
      name: 'CappedPositionLost',
      retryable: 'fetcher',
      hint: 'The oplog was truncated past the cursor position; the fetcher re-opens from the last fetched optime'
    }
  ],
  // Fatal, but common enough to deserve a precise hint.
  [
    13,
    {
      name: 'Unauthorized',
      retryable: false,
      hint: 'Grant the user the roles it needs: read on the source (including local), readWrite on the target'
    }
  ],
  [
    18,
    {
      name: 'AuthenticationFailed',
      retryable: false,
      hint: 'Check the user name, password and authSource of the connection string'
    }
  ],
  [
    286,
    {
      name: 'ChangeStreamHistoryLost',
      retryable: false,
      hint: 'The resume point fell off the source oplog; run a new full sync (mode "all")'
    }
  ]
]);

/** Labels the server or driver attaches when the same operation may be tried again. */
const RETRYABLE_LABELS: readonly string[] = Object.freeze([
  'RetryableWriteError',
  'ResumableChangeStreamError'
]);

/**
 * Decides whether a failure is transient (retry with backoff) or fatal (stop the stage).
 *
 * @remarks
 * Retryable: `MongoNetworkError` (and its timeout subclass), `MongoServerSelectionError`, the
 * `RetryableWriteError` and `ResumableChangeStreamError` labels, and the network, step-down and
 * shutdown server codes (6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436).
 * CappedPositionLost (136) is retryable only with `{ fetcher: true }`. A {@link ReplicationError}
 * keeps its own `retryable` flag. Everything else is fatal.
 * @public
 */
export function classifyError(
  error: unknown,
  options: ClassifyErrorOptions = {}
): ErrorClassification {
  if (ReplicationError.is(error)) {
    return error.retryable
      ? { retryable: true, hint: `${error.code} is transient; retrying` }
      : { retryable: false, hint: `${error.code} is not transient` };
  }
  if (isNamed(error, MongoNetworkError, ['MongoNetworkError', 'MongoNetworkTimeoutError'])) {
    return { retryable: true, hint: NETWORK };
  }
  if (isNamed(error, MongoServerSelectionError, ['MongoServerSelectionError'])) {
    return {
      retryable: true,
      hint: 'No suitable server was selectable (no primary, or none reachable); retrying until one is'
    };
  }
  const code = errorCode(error);
  const rule = code === undefined ? undefined : SERVER_CODES.get(code);
  if (rule !== undefined && rule.retryable !== false) {
    if (rule.retryable === true || options.fetcher === true)
      return { retryable: true, hint: rule.hint };
  }
  const label = RETRYABLE_LABELS.find(l => hasLabel(error, l));
  if (label !== undefined) {
    return { retryable: true, hint: `The server labelled the failure ${label}; retrying` };
  }
  if (rule !== undefined) {
    return {
      retryable: false,
      hint:
        rule.retryable === 'fetcher'
          ? `${rule.name} (${code}) outside the oplog fetcher is not transient`
          : `${rule.name} (${code}): ${rule.hint}`
    };
  }
  return {
    retryable: false,
    hint:
      code === undefined ? 'Not a transient failure' : `Server error code ${code} is not transient`
  };
}

/** `instanceof`, or the same class name from another loaded copy of the driver. */
function isNamed(
  error: unknown,
  type: abstract new (...args: never[]) => unknown,
  names: readonly string[]
): boolean {
  if (error instanceof type) return true;
  return error instanceof Error && names.includes(error.name);
}

function errorCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number') return code;
  // A write-concern failure reports its code on the nested writeConcernError.
  const wce = (error as { writeConcernError?: { code?: unknown } }).writeConcernError;
  return typeof wce?.code === 'number' ? wce.code : undefined;
}

function hasLabel(error: unknown, label: string): boolean {
  if (error instanceof MongoError) return error.hasErrorLabel(label);
  if (typeof error !== 'object' || error === null) return false;
  const labels = (error as { errorLabels?: unknown }).errorLabels;
  return Array.isArray(labels) && labels.includes(label);
}
