/** The error labels mongod adds to a failed command (TEST-SERVER-SPEC §3.8). */

/** Codes that make a retryable write (and commit/abort) retryable (retryable-writes spec). */
const RETRYABLE_WRITE_CODES = new Set([
  6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 134
]);

/** Codes after which a change stream resumes (change-streams spec "Resumable Error"). */
const RESUMABLE_CHANGE_STREAM_CODES = new Set([
  6, 7, 63, 89, 91, 133, 150, 189, 234, 262, 9001, 10107, 11600, 11602, 13388, 13435, 13436
]);

/** Codes that leave a transaction worth retrying from the start. */
const TRANSIENT_TRANSACTION_CODES = new Set([24, 112, 251, ...RETRYABLE_WRITE_CODES]);

export interface LabelContext {
  readonly command: string;
  readonly retryableWrite: boolean;
  readonly inTransaction: boolean;
  readonly changeStreamGetMore: boolean;
}

/** Labels for an error `code` raised by `command` in the given situation. */
export function errorLabelsFor(code: number, context: LabelContext): string[] {
  const labels: string[] = [];
  const commitOrAbort =
    context.command === 'commitTransaction' || context.command === 'abortTransaction';
  if ((context.retryableWrite || commitOrAbort) && RETRYABLE_WRITE_CODES.has(code)) {
    labels.push('RetryableWriteError');
  }
  if (context.inTransaction && !commitOrAbort && TRANSIENT_TRANSACTION_CODES.has(code)) {
    labels.push('TransientTransactionError');
  }
  if (context.changeStreamGetMore && RESUMABLE_CHANGE_STREAM_CODES.has(code)) {
    labels.push('ResumableChangeStreamError');
  }
  return labels;
}
