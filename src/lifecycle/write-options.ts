/**
 * The options every write to the target carries outside a transaction: the write concern when
 * one is set, and whether document validation is bypassed (a replica holds what the source
 * holds, even documents its validator would now reject).
 */
import { type WriteConcern, type WriteConcernSettings } from 'mongodb';

/**
 * The options of a write outside a transaction.
 * @internal
 */
export interface TargetWriteOptions {
  readonly writeConcern?: WriteConcern | WriteConcernSettings;
  readonly bypassDocumentValidation: boolean;
}

/**
 * The write concern (when one is set) and the validation bypass of every target write.
 * @internal
 */
export function targetWriteOptions(options: {
  readonly writeConcern: WriteConcern | WriteConcernSettings | undefined;
  readonly bypassDocumentValidation: boolean;
}): TargetWriteOptions {
  const { writeConcern, bypassDocumentValidation } = options;
  return writeConcern === undefined
    ? { bypassDocumentValidation }
    : { writeConcern, bypassDocumentValidation };
}
