/**
 * The error labels mongod adds to a failed command or a write concern error, as its
 * ErrorLabelBuilder computes them (src/mongo/db/error_labels.cpp): from the command's session
 * fields (`txnNumber`, `autocommit`), never from server-side session state, so an error injected
 * before the session is checked out gets the same labels.
 */

/** mongod's RetriableError category (error_codes.yml). */
const RETRIABLE = new Set([
  6, 7, 89, 91, 134, 189, 262, 358, 384, 9001, 10107, 11600, 11602, 13435, 13436, 50915
]);

/** NetworkError category. */
const NETWORK = new Set([6, 7, 89, 384, 9001]);

/** NeedRetargettingError category: StaleEpoch, StaleConfig (and StaleShardVersion before 6.1). */
const NEED_RETARGETTING = new Set([63, 150, 13388]);

/** SnapshotError category. */
const SNAPSHOT = new Set([239, 246, 250, 272]);

/** NonResumableChangeStreamError category. */
const NON_RESUMABLE_CHANGE_STREAM = new Set([280, 286]);

const COMMIT_OR_ABORT = new Set(['commitTransaction', 'abortTransaction']);

export interface LabelInput {
  readonly command: string;
  /** The command carries `txnNumber`. */
  readonly txnNumber: boolean;
  /** The command carries `autocommit` (a transaction statement, commit or abort). */
  readonly autocommit: boolean;
  /** The command's error code, if it failed. */
  readonly code?: number | undefined;
  /** The code of the reply's `writeConcernError`, if any. */
  readonly wcCode?: number | undefined;
  /**
   * An `aggregate` opening, or a `getMore` reading, a change stream as mongod can tell at the
   * time of the error (a `getMore` failed by `failCommand` before its cursor was checked out
   * cannot be told apart, so it gets no ResumableChangeStreamError).
   */
  readonly changeStream: boolean;
}

/** `isTransientTransactionError` of error_labels.cpp. */
function isTransientTransactionError(
  code: number,
  hasWriteConcernError: boolean,
  commitOrAbort: boolean
): boolean {
  if ([112, 24, 267, 343, 249].includes(code)) return true;
  if (SNAPSHOT.has(code) || NEED_RETARGETTING.has(code)) return true;
  // On NoSuchTransaction at commit or abort, retrying the whole transaction is only safe when
  // the data cannot be rolled back.
  if (commitOrAbort) return code === 251 && !hasWriteConcernError;
  return RETRIABLE.has(code) || code === 251;
}

/** The labels for one reply, in the order mongod appends them. */
export function errorLabelsFor(input: LabelInput): string[] {
  const { code, wcCode } = input;
  const commitOrAbort = COMMIT_OR_ABORT.has(input.command);
  if (
    code !== undefined &&
    input.txnNumber &&
    input.autocommit &&
    isTransientTransactionError(code, wcCode !== undefined, commitOrAbort)
  ) {
    return ['TransientTransactionError'];
  }
  const retryableWrite = input.txnNumber && (!input.autocommit || commitOrAbort);
  if (
    retryableWrite &&
    ((code !== undefined && RETRIABLE.has(code)) || (wcCode !== undefined && RETRIABLE.has(wcCode)))
  ) {
    return ['RetryableWriteError'];
  }
  if (
    input.changeStream &&
    (input.command === 'aggregate' || input.command === 'getMore') &&
    code !== undefined &&
    wcCode === undefined &&
    (RETRIABLE.has(code) ||
      NETWORK.has(code) ||
      NEED_RETARGETTING.has(code) ||
      code === 234 ||
      code === 133)
  ) {
    return ['ResumableChangeStreamError'];
  }
  if (code !== undefined && NON_RESUMABLE_CHANGE_STREAM.has(code)) {
    return ['NonResumableChangeStreamError'];
  }
  return [];
}
