/**
 * Turns an error into the code and message a status page shows, with credentials redacted.
 */
import { ReplicationError } from '../errors.js';
import { redactText } from '../logger.js';

/**
 * A stable code for `error`: a {@link ReplicationError}'s `MR_…` code, a driver error's
 * `codeName`, a string or numeric `code` (Node system errors, server error numbers), else the
 * class name.
 * @internal
 */
export function errorCode(error: unknown): string {
  if (ReplicationError.is(error)) return error.code;
  if (typeof error !== 'object' || error === null) return typeof error;
  const { codeName, code, name } = error as { codeName?: unknown; code?: unknown; name?: unknown };
  if (typeof codeName === 'string' && codeName.length > 0) return codeName;
  if (typeof code === 'string' && code.length > 0) return code;
  if (typeof code === 'number') return String(code);
  return typeof name === 'string' && name.length > 0 ? name : 'Error';
}

/**
 * `error`'s message with every connection string in it redacted; the error is not modified.
 * @internal
 */
export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return redactText(message);
}
