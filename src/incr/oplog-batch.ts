/**
 * Pure helpers of the oplog fetcher: decoding raw oplog documents with their exact BSON types,
 * and sorting a fetched batch into entries to deliver and `fromMigrate` entries to skip.
 */
import { BSON, type Timestamp } from 'mongodb';

import { SourceReadError } from '../errors.js';
import { EXACT_DECODE_OPTIONS } from '../oplog/exact-decode.js';
import { compareOptimes, formatOptime, isDocument, parseOplogEntry } from '../oplog/oplog-entry.js';
import { parseCrudEntryBytes } from '../oplog/oplog-entry-bytes.js';
import { type FetchedEntry } from './pipeline-items.js';

/**
 * Decodes one oplog document as read with `raw: true`, keeping its exact BSON size for the
 * queues' byte bounds. Inserts, updates and deletes are parsed from their bytes, decoding only
 * what batching needs (see `oplog-entry-bytes.ts`); everything else is decoded in full.
 *
 * @remarks
 * A top-level `resumeToken` document becomes {@link FetchedEntry.resumeToken}: entries built from
 * change events carry their token there, so it survives the disk spool. mongod never writes
 * that field into an oplog entry.
 *
 * @throws {@link UnsupportedOplogEntryError} for a malformed entry
 * @internal
 */
export function decodeOplogEntry(raw: Uint8Array): FetchedEntry {
  const crud = parseCrudEntryBytes(raw);
  if (crud !== undefined) return { entry: crud, bytes: raw.byteLength };
  const document = BSON.deserialize(raw, EXACT_DECODE_OPTIONS);
  const entry = parseOplogEntry(document);
  const resumeToken: unknown = document.resumeToken;
  return isDocument(resumeToken)
    ? { entry, bytes: raw.byteLength, resumeToken }
    : { entry, bytes: raw.byteLength };
}

/**
 * One fetched batch sorted out: what to deliver, what was skipped, where the fetcher now is.
 * @internal
 */
export interface SortedBatch {
  /** Entries to push to the output, in oplog order. */
  readonly deliver: readonly FetchedEntry[];
  /** BSON bytes of `deliver`. */
  readonly bytes: number;
  /** How many `fromMigrate` entries were dropped. */
  readonly skippedFromMigrate: number;
  /** Optime of the first entry of the batch (delivered or skipped). */
  readonly firstOptime: Timestamp;
  /** Optime of the last entry of the batch: the new last fetched position. */
  readonly lastOptime: Timestamp;
}

/**
 * Drops chunk-migration entries (`fromMigrate: true`: not user writes, DESIGN §3) and checks that
 * the batch continues strictly after `after`, as a secondary's `validateDocuments()` does; an
 * out-of-order or repeated entry would mean a lost or doubled write, so it is fatal.
 *
 * @param after - the last fetched optime before this batch
 * @param entries - the decoded batch, non-empty
 * @throws {@link SourceReadError} (not retryable) when an entry is not newer than its predecessor
 * @internal
 */
export function sortOutBatch(after: Timestamp, entries: readonly FetchedEntry[]): SortedBatch {
  const deliver: FetchedEntry[] = [];
  let bytes = 0;
  let skippedFromMigrate = 0;
  let previous = after;
  for (const fetched of entries) {
    const ts = fetched.entry.ts;
    if (compareOptimes(ts, previous) <= 0) {
      throw new SourceReadError(
        `The source oplog returned entry ${formatOptime(ts)} after ${formatOptime(previous)}`,
        false,
        {
          optime: ts,
          hint: 'Entries must arrive in strictly increasing order; restart from the last checkpoint, and report this if it repeats'
        }
      );
    }
    previous = ts;
    if (fetched.entry.fromMigrate) {
      skippedFromMigrate += 1;
      continue;
    }
    deliver.push(fetched);
    bytes += fetched.bytes;
  }
  const first = entries[0];
  if (first === undefined) throw new RangeError('sortOutBatch needs at least one entry');
  return { deliver, bytes, skippedFromMigrate, firstOptime: first.entry.ts, lastOptime: previous };
}
