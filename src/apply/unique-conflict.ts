/**
 * A duplicate key on a unique secondary index while applying: the signal that documents reached
 * the target out of source order (lanes apply different documents in parallel) or over later
 * versions (a replay), not a failure. The pool answers it by applying the batches involved again
 * in source order with the index relaxed (see hashed-applier-pool.ts), and enforces the index
 * again once the target is consistent.
 */
import { type WriteError } from 'mongodb';

import {
  DUPLICATE_KEY_CODES,
  duplicateKeyIndex,
  isDuplicateIdError
} from '../lifecycle/bulk-write-errors.js';

/**
 * A write met a duplicate key on `index` of `namespace` (never the key itself: it is data).
 * @internal
 */
export class UniqueConflict extends Error {
  constructor(
    /** The target namespace. */
    readonly namespace: string,
    /** The index whose uniqueness the write broke. */
    readonly index: string
  ) {
    super(`a write to ${namespace} met a duplicate key on unique index ${index}`);
  }

  override get name(): string {
    return 'UniqueConflict';
  }
}

/**
 * The {@link UniqueConflict} a per-document write error stands for, if it is a duplicate key on
 * another index than `_id`.
 * @internal
 */
export function uniqueConflictOf(
  writeError: WriteError,
  namespace: string
): UniqueConflict | undefined {
  if (!DUPLICATE_KEY_CODES.has(writeError.code) || isDuplicateIdError(writeError)) return undefined;
  return new UniqueConflict(namespace, duplicateKeyIndex(writeError));
}
