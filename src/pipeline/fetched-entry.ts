/**
 * One oplog entry as it travels from a fetcher (or the spool) to the batcher: decoded from the
 * raw bytes a `raw: true` cursor (or a spool record) holds.
 */
import { BSON } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { isDocument, parseOplogEntry } from '../oplog/oplog-entry.js';
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
