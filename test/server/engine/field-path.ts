/** mongod's FieldPath rules, shared by expressions, projections and sort patterns. */
import { ServerError } from './server-error.js';

/**
 * Splits a dotted field path and rejects what mongod's FieldPath rejects: empty components (15998)
 * and components starting with `$` (16410). The caller decides what an empty path means.
 */
export function fieldPathParts(path: string): string[] {
  const parts = path.split('.');
  for (const part of parts) {
    if (part.length === 0) {
      throw new ServerError(15998, 'FieldPath field names may not be empty strings.');
    }
    if (part.startsWith('$')) {
      throw new ServerError(
        16410,
        `FieldPath field names may not start with '$'. Consider using $getField or $setField.`
      );
    }
  }
  return parts;
}
