/**
 * Writes one chunk of the full copy: an unordered `insertMany`, then the duplicates per policy.
 */
import {
  type AnyBulkWriteOperation,
  type Document,
  type MongoClient,
  type WriteConcern,
  type WriteConcernSettings,
  type WriteError
} from 'mongodb';

import { TargetWriteError } from '../errors.js';
import {
  DUPLICATE_KEY_CODES,
  unwrapBulkError,
  writeErrorsOf
} from '../lifecycle/bulk-write-errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
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
  readonly retry: <T>(operation: string, fn: (attempt: number) => Promise<T>) => Promise<T>;
}

/**
 * True for a duplicate key on `_id` itself. A unique secondary index (built before the data, and
 * the source changing meanwhile) also reports 11000, but replacing the document would not help.
 */
function isDuplicateId(writeError: WriteError): boolean {
  if (!DUPLICATE_KEY_CODES.has(writeError.code)) return false;
  const keyPattern = (writeError.err as { keyPattern?: unknown } | undefined)?.keyPattern;
  if (keyPattern !== null && typeof keyPattern === 'object') {
    const fields = Object.keys(keyPattern);
    return fields.length === 1 && fields[0] === '_id';
  }
  // Servers that do not report keyPattern name the index in the message.
  return / index: _id_ /.test(writeError.errmsg ?? '');
}

/** The index a duplicate-key error names, never the key's value (which is document data). */
function indexName(writeError: WriteError): string {
  return / index: (\S+)/.exec(writeError.errmsg ?? '')?.[1] ?? 'a unique index';
}

/**
 * Inserts the chunk; returns how many documents replaced one already on the target.
 * @throws {@link TargetWriteError} for a duplicate under the `fail` policy (naming the `_id`'s
 * namespace, never its value) and for any other rejected document
 * @internal
 */
export async function insertChunk(options: ChunkWriteOptions): Promise<number> {
  const { target, targetNs, documents, writeConcern, retry } = options;
  const { db, coll } = splitNamespace(targetNs);
  const collection = target.db(db).collection(coll);
  const writeOptions = writeConcern === undefined ? {} : { writeConcern };
  const duplicates = await retry(`insertMany ${targetNs}`, async attempt => {
    try {
      await collection.insertMany(documents as Document[], { ordered: false, ...writeOptions });
      return [];
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      if (writeErrors.length === 0) throw unwrapBulkError(error);
      const other = writeErrors.find(e => !isDuplicateId(e));
      if (other !== undefined) {
        if (classifyError({ code: other.code }).retryable) throw error;
        // Server messages can quote document values (a duplicate key's value): never pass them on.
        const what = DUPLICATE_KEY_CODES.has(other.code)
          ? `a duplicate key on ${indexName(other)}`
          : `error code ${other.code}`;
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
    try {
      await collection.bulkWrite(models, { ordered: false, ...writeOptions });
    } catch (error) {
      const writeError = writeErrorsOf(error)[0];
      if (writeError === undefined || classifyError({ code: writeError.code }).retryable) {
        throw unwrapBulkError(error);
      }
      throw new TargetWriteError(
        `The target rejected a document replacing one in ${targetNs}: error code ${writeError.code}${DUPLICATE_KEY_CODES.has(writeError.code) ? ` (duplicate key on ${indexName(writeError)})` : ''}`,
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
