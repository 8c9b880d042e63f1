/**
 * CRUD oplog entries as the driver's bulk-write models, following the rules a secondary applies
 * (DESIGN §3) so that replaying an entry twice, or onto a later version of a document, is safe.
 */
import { type AnyBulkWriteOperation, type Document } from 'mongodb';

import { type DeleteEntry, type InsertEntry, type UpdateEntry } from './oplog-entry.js';
import { updateOf } from './update-diff.js';

/**
 * Turns one insert, update or delete entry into the bulk-write model that applies it on the
 * target.
 *
 * @remarks
 * - insert → `insertOne` (callers group these; on a duplicate `_id` use
 *   {@link insertAsReplacement}, as a secondary does);
 * - update with operators or a `$v: 2` diff → `updateOne` by `o2` (`_id`, plus the shard key),
 *   without upsert: the diff only makes sense against an existing document;
 * - replacement update → `replaceOne` by `o2` with `upsert: true`;
 * - delete → `deleteOne` by `o`; deleting nothing is fine.
 *
 * Entries are not checked for `fromMigrate` or the namespace filter: that is the caller's job.
 *
 * @example
 * ```ts
 * const entry = parseOplogEntry(raw);
 * if (entry.op === 'i' || entry.op === 'u' || entry.op === 'd') {
 *   await target.db(db).collection(coll).bulkWrite([toWriteModel(entry)]);
 * }
 * ```
 * @throws {@link UnsupportedOplogEntryError} if an update is malformed
 * @public
 */
export function toWriteModel(
  entry: InsertEntry | UpdateEntry | DeleteEntry
): AnyBulkWriteOperation<Document> {
  switch (entry.op) {
    case 'i':
      return { insertOne: { document: entry.o } };
    case 'u':
      if (entry.kind === 'replacement') {
        return { replaceOne: { filter: entry.o2, replacement: entry.o, upsert: true } };
      }
      return { updateOne: { filter: entry.o2, update: updateOf(entry) } };
    case 'd':
      return { deleteOne: { filter: entry.o } };
  }
}

/**
 * The fallback for an insert that hit a duplicate `_id` on the target: replace that document
 * (or insert it) with the logged one, as a secondary does.
 *
 * @remarks
 * The filter is the entry's `o2` when mongod logged one (it carries the shard key on sharded
 * data), else `{ _id }`.
 * @public
 */
export function insertAsReplacement(entry: InsertEntry): AnyBulkWriteOperation<Document> {
  const filter = entry.o2 ?? { _id: entry.o._id as unknown };
  return { replaceOne: { filter, replacement: entry.o, upsert: true } };
}
