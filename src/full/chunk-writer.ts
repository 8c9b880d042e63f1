/**
 * Writes one chunk of the full copy: an unordered `insertMany`, then the duplicates per policy.
 */
import {
  type AnyBulkWriteOperation,
  type Document,
  type MongoClient,
  type WriteConcern,
  type WriteConcernSettings
} from 'mongodb';

import { TargetWriteError } from '../errors.js';
import {
  describeWriteError,
  isDuplicateIdError,
  unwrapBulkError,
  writeErrorsOf
} from '../lifecycle/bulk-write-errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { targetWriteOptions } from '../lifecycle/write-options.js';
import { splitNamespace } from '../namespace/namespace.js';
import { type DuplicatePolicy } from './collection-executor-options.js';

/**
 * What {@link insertChunk} needs.
 * @internal
 */
export interface ChunkWriteOptions {
  readonly target: MongoClient;
  readonly targetNs: string;
  readonly documents: readonly Document[];
  readonly onDuplicate: DuplicatePolicy;
  readonly writeConcern: WriteConcern | WriteConcernSettings | undefined;
  /** Whether inserts skip the target's document validation. */
  readonly bypassDocumentValidation: boolean;
  /** Runs right before every write; throwing stops it (the lease check). */
  readonly beforeWrite: () => void;
  readonly retry: <T>(operation: string, fn: (attempt: number) => Promise<T>) => Promise<T>;
}

/**
 * Inserts the chunk; returns how many documents replaced one already on the target.
 * @throws {@link TargetWriteError} for a duplicate under the `fail` policy (naming the `_id`'s
 * namespace, never its value) and for any other rejected document
 * @internal
 */
export async function insertChunk(options: ChunkWriteOptions): Promise<number> {
  const { target, targetNs, documents, writeConcern, bypassDocumentValidation, retry } = options;
  const { db, coll } = splitNamespace(targetNs);
  const collection = target.db(db).collection(coll);
  const writeOptions = targetWriteOptions({ writeConcern, bypassDocumentValidation });
  const duplicates = await retry(`insertMany ${targetNs}`, async attempt => {
    options.beforeWrite();
    try {
      await collection.insertMany(documents as Document[], { ordered: false, ...writeOptions });
      return [];
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      if (writeErrors.length === 0) throw unwrapBulkError(error);
      const other = writeErrors.find(e => !isDuplicateIdError(e));
      if (other !== undefined) {
        if (classifyError({ code: other.code }).retryable) throw error;
        // Server messages can quote document values (a duplicate key's value): never pass them on.
        const what = describeWriteError(other);
        throw new TargetWriteError(
          `The target rejected a document copied into ${targetNs}: ${what}`,
          false,
          {
            namespace: targetNs,
            cause: error,
            hint: 'Fix the target (validation rules, indexes, permissions) and restart; finished ranges are not copied again'
          }
        );
      }
      // A retried attempt meets its own earlier inserts: those are replaced, never a conflict.
      if (options.onDuplicate === 'fail' && attempt === 1) {
        throw new TargetWriteError(
          `${writeErrors.length} document(s) copied into ${targetNs} have an _id the target already holds`,
          false,
          {
            namespace: targetNs,
            cause: error,
            hint: 'The target collection was not empty. Use onDuplicate "replace" to overwrite such documents, or onExistingTarget "drop" to start from an empty collection'
          }
        );
      }
      return writeErrors.map(e => e.index);
    }
  });
  if (duplicates.length === 0) return 0;
  const models: AnyBulkWriteOperation<Document>[] = duplicates.map(index => {
    const document = documents[index]!;
    return { replaceOne: { filter: { _id: document._id }, replacement: document, upsert: true } };
  });
  await retry(`replace duplicates in ${targetNs}`, async () => {
    options.beforeWrite();
    try {
      await collection.bulkWrite(models, { ordered: false, ...writeOptions });
    } catch (error) {
      const writeError = writeErrorsOf(error)[0];
      if (writeError === undefined || classifyError({ code: writeError.code }).retryable) {
        throw unwrapBulkError(error);
      }
      throw new TargetWriteError(
        `The target rejected a document replacing one in ${targetNs}: ${describeWriteError(writeError)}`,
        false,
        {
          namespace: targetNs,
          cause: error,
          hint: 'Fix the target (unique indexes, validation rules) and restart'
        }
      );
    }
  });
  return duplicates.length;
}
