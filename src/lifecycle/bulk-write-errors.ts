/**
 * Reading the driver's bulk-write failures, shared by the applier lanes and the full copy's
 * writers.
 */
import { MongoBulkWriteError, type WriteError } from 'mongodb';

/**
 * Server codes of a duplicate key.
 * @internal
 */
export const DUPLICATE_KEY_CODES: ReadonlySet<number> = new Set([11000, 11001, 12582]);

/**
 * The per-document errors of a failed bulk write (none for any other failure).
 * @internal
 */
export function writeErrorsOf(error: unknown): WriteError[] {
  if (!(error instanceof MongoBulkWriteError)) return [];
  const errors = error.writeErrors;
  return Array.isArray(errors) ? errors : [errors as WriteError];
}

/**
 * The driver wraps a network failure in the middle of a bulk write in a MongoBulkWriteError
 * without write errors (keeping the original as `errorResponse`), which hides its class and
 * labels from `classifyError`; hand the original on so it is retried.
 * @internal
 */
export function unwrapBulkError(error: unknown): unknown {
  if (!(error instanceof MongoBulkWriteError) || writeErrorsOf(error).length > 0) return error;
  const original: unknown = error.errorResponse;
  return original instanceof Error ? original : error;
}
