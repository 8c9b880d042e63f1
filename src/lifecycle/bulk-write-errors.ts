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

/**
 * True for a duplicate key on `_id` itself (a unique secondary index reports 11000 too, but
 * replacing the document by `_id` would not help there).
 * @internal
 */
export function isDuplicateIdError(writeError: WriteError): boolean {
  if (!DUPLICATE_KEY_CODES.has(writeError.code)) return false;
  const keyPattern = duplicateKeyPattern(writeError);
  if (keyPattern !== undefined) {
    const fields = Object.keys(keyPattern);
    return fields.length === 1 && fields[0] === '_id';
  }
  // Servers that do not report keyPattern name the index in the message.
  return / index: _id_ /.test(writeError.errmsg ?? '');
}

/**
 * The key pattern of the index a duplicate-key error is about, when the server reports it
 * (4.4+): field names only, never values.
 * @internal
 */
export function duplicateKeyPattern(writeError: WriteError): Record<string, unknown> | undefined {
  const keyPattern = (writeError.err as { keyPattern?: unknown } | undefined)?.keyPattern;
  return keyPattern !== null && typeof keyPattern === 'object'
    ? (keyPattern as Record<string, unknown>)
    : undefined;
}

/**
 * The name of the index a duplicate-key error names, never the key's value (document data).
 * @internal
 */
export function duplicateKeyIndex(writeError: WriteError): string {
  return (
    / index: (\S+) dup key/.exec(writeError.errmsg ?? '')?.[1] ??
    / index: (\S+)/.exec(writeError.errmsg ?? '')?.[1] ??
    'a unique index'
  );
}

/**
 * A per-document write error described without the server's text (which can quote document
 * values): `a duplicate key on index email_1`, `server error 121 (DocumentValidationFailure)`.
 * @internal
 */
export function describeWriteError(writeError: WriteError): string {
  if (DUPLICATE_KEY_CODES.has(writeError.code)) {
    return `a duplicate key on index ${duplicateKeyIndex(writeError)}`;
  }
  const codeName = (writeError.err as { codeName?: unknown } | undefined)?.codeName;
  return `server error ${writeError.code}${typeof codeName === 'string' ? ` (${codeName})` : ''}`;
}
