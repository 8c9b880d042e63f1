/**
 * Entries several shards logged at one optime, carried as one entry. Shards draw timestamps from
 * clocks of their own, so two of them can log entries at the same optime; a merged stream needs
 * unique optimes (they name positions in the spool and the checkpoint), so such entries travel
 * together: `{ts, op: 'c', ns: 'admin.$cmd', o: {shardEntries: [entry, …]}}`, each entry whole
 * (its `lsid`, `prevOpTime` and `fromMigrate` included), in shard order. They are concurrent, so
 * any order between them is one the source could have had. mongod never logs this command; a
 * consumer that does not know it fails on it instead of passing over the writes it holds.
 */
import { type Document } from 'mongodb';

import { isDocument, malformed, type OplogEntry, parseOplogEntry } from './oplog-entry.js';

/** The command name of the envelope. */
export const SHARD_ENTRIES = 'shardEntries';

/**
 * The envelope of `entries` (raw oplog documents, all at `ts`).
 * @internal
 */
export function shardEntriesEnvelope(ts: unknown, entries: readonly Document[]): Document {
  return { ts, op: 'c', ns: 'admin.$cmd', o: { [SHARD_ENTRIES]: [...entries] } };
}

/**
 * The entries an envelope carries, parsed; `undefined` for any other entry.
 * @throws {@link UnsupportedOplogEntryError} for an envelope that holds something else than
 * oplog entries
 * @internal
 */
export function shardEntriesOf(entry: OplogEntry): OplogEntry[] | undefined {
  if (entry.op !== 'c' || entry.command !== SHARD_ENTRIES) return undefined;
  const entries: unknown = entry.o[SHARD_ENTRIES];
  if (!Array.isArray(entries) || !entries.every(isDocument)) {
    throw malformed(`"${SHARD_ENTRIES}" is not a list of oplog entries`, entry.raw);
  }
  return entries.map(raw => parseOplogEntry(raw));
}
