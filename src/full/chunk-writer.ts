/**
 * Writes one chunk of the full copy: an unordered `insertMany`, then the duplicates per policy.
 */
import {
  type AnyBulkWriteOperation,
  type Document,
  MongoBulkWriteError,
  type MongoClient,
  type WriteConcern,
  type WriteConcernSettings,
  type WriteError
} from 'mongodb';

import { TargetWriteError } from '../errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { type DuplicatePolicy } from './collection-executor-options.js';

const DUPLICATE_KEY: ReadonlySet<number> = new Set([11000, 11001, 12582]);

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

function writeErrorsOf(error: unknown): WriteError[] {
  if (!(error instanceof MongoBulkWriteError)) return [];
  const errors = error.writeErrors;
  return Array.isArray(errors) ? errors : [errors as WriteError];
}

/** The driver hides a network error inside a MongoBulkWriteError without write errors. */
function unwrap(error: unknown): unknown {
  if (!(error instanceof MongoBulkWriteError) || writeErrorsOf(error).length > 0) return error;
  const original: unknown = error.errorResponse;
  return original instanceof Error ? original : error;
}

/**
 * Inserts the chunk; returns how many documents replaced one already on the target.
 * @throws {@link TargetWriteError} for a duplicate under the `fail` policy (naming the `_id`'s
 * namespace, never its value) and for any other rejected document
 * @internal
 */
export async function insertChunk(options: ChunkWriteOptions): Promise<number> {
  const { target, targetNs, documents, writeConcern, retry } = options;
  const dot = targetNs.indexOf('.');
  const collection = target.db(targetNs.slice(0, dot)).collection(targetNs.slice(dot + 1));
  const writeOptions = writeConcern === undefined ? {} : { writeConcern };
  const duplicates = await retry(`insertMany ${targetNs}`, async attempt => {
    try {
      await collection.insertMany(documents as Document[], { ordered: false, ...writeOptions });
      return [];
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      if (writeErrors.length === 0) throw unwrap(error);
      const other = writeErrors.find(e => !DUPLICATE_KEY.has(e.code));
      if (other !== undefined) {
        if (classifyError({ code: other.code }).retryable) throw error;
        throw new TargetWriteError(
          `The target rejected a document copied into ${targetNs}: ${other.errmsg ?? `code ${other.code}`}`,
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
  await retry(`replace duplicates in ${targetNs}`, () =>
    collection.bulkWrite(models, { ordered: false, ...writeOptions })
  );
  return duplicates.length;
}
