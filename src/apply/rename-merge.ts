/**
 * A rename onto a collection the target keeps because drops are skipped (`filter.skip` names
 * `drop`): the source's `renameCollection` replaced or took the name of a collection that the
 * target never dropped. Replacing it would drop what the skip promised to keep; leaving the
 * renamed collection under its old name would send every later write of the new name to the
 * kept one. So the renamed collection's documents are moved into the kept one (a document whose
 * `_id` both hold ends as the renamed collection's version), then the old name is dropped: the
 * target keeps the union.
 *
 * Replaying it is safe: a merge interrupted half way leaves the old name, which the replayed
 * rename merges again; after a restart that already renamed, the old name holds at most what
 * the replayed writes re-created before the rename (older versions of documents the stream
 * brings up to date again right after).
 */
import { type AnyBulkWriteOperation, BSON, type Document, type MongoClient } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { TargetWriteError } from '../errors.js';
import {
  describeWriteError,
  unwrapBulkError,
  writeErrorsOf
} from '../lifecycle/bulk-write-errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { type TargetWriteOptions } from '../lifecycle/write-options.js';
import { splitNamespace } from '../namespace/namespace.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { type LaneRetry } from './run-writer.js';

/** Documents moved per round trip. */
const MERGE_BATCH = 1_000;

/**
 * What {@link mergeRenamed} needs.
 * @internal
 */
export interface RenameMergeOptions {
  readonly target: MongoClient;
  readonly writeOptions: TargetWriteOptions;
  readonly retry: LaneRetry;
  readonly throttle: WriteThrottle | undefined;
  /** Runs right before every write; throwing stops the merge (the lease check). */
  readonly beforeWrite: () => void;
  readonly signal: AbortSignal | undefined;
}

/**
 * Moves every document of `from` into `to` (replace-upserts by `_id`), then drops `from`.
 * Returns how many documents were moved.
 * @throws {@link TargetWriteError} naming `to` when the target refuses a document (a unique
 * index of the kept collection that both hold a value of)
 * @internal
 */
export async function mergeRenamed(
  from: string,
  to: string,
  options: RenameMergeOptions
): Promise<number> {
  const { target, retry, throttle, signal } = options;
  const source = collection(target, from);
  const destination = collection(target, to);
  let moved = 0;
  let batch: Document[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const documents = batch;
    batch = [];
    const write = () =>
      retry(`merge ${from} into ${to}`, () => upsertAll(destination, to, documents, options));
    if (throttle === undefined) await write();
    else await throttle.write(documents.length, bytesOf(documents), signal, write);
    moved += documents.length;
  };
  for await (const document of source.find(
    {},
    { ...EXACT_DECODE_OPTIONS, batchSize: MERGE_BATCH }
  )) {
    signal?.throwIfAborted();
    batch.push(document);
    if (batch.length >= MERGE_BATCH) await flush();
  }
  await flush();
  const drop = () =>
    retry(`drop ${from} after merging it into ${to}`, () => {
      options.beforeWrite();
      return source.drop().then(
        () => undefined,
        // Already gone: a replay of a merge that had finished.
        (error: unknown) => {
          if ((error as { code?: unknown }).code === NAMESPACE_NOT_FOUND) return undefined;
          throw error;
        }
      );
    });
  if (throttle === undefined) await drop();
  else await throttle.write(1, 0, signal, drop);
  return moved;
}

const NAMESPACE_NOT_FOUND = 26;

function collection(target: MongoClient, ns: string) {
  const { db, coll } = splitNamespace(ns);
  return target.db(db).collection(coll);
}

function bytesOf(documents: readonly Document[]): number {
  return documents.reduce((sum, document) => sum + BSON.calculateObjectSize(document), 0);
}

async function upsertAll(
  destination: ReturnType<typeof collection>,
  to: string,
  documents: readonly Document[],
  options: RenameMergeOptions
): Promise<void> {
  const models: AnyBulkWriteOperation<Document>[] = documents.map(document => ({
    replaceOne: { filter: { _id: document._id }, replacement: document, upsert: true }
  }));
  options.beforeWrite();
  try {
    await destination.bulkWrite(models, { ordered: false, ...options.writeOptions });
  } catch (error) {
    const writeError = writeErrorsOf(error)[0];
    if (writeError === undefined || classifyError({ code: writeError.code }).retryable) {
      throw unwrapBulkError(error);
    }
    // Never the document or key value: the server's message may quote it.
    throw new TargetWriteError(
      `Merging a renamed collection into ${to}, which the target keeps because drops are skipped, failed: ${describeWriteError(writeError)}`,
      false,
      {
        namespace: to,
        cause: error,
        hint: 'Both collections hold a value a unique index of the kept one allows once; drop or rename the kept collection on the target and restart'
      }
    );
  }
}
