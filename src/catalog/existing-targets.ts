/**
 * What already exists at target namespaces: one `listCollections` per target database, then
 * one `findOne` per existing collection to learn whether it holds documents.
 */
import { type Document, type MongoClient } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { splitNamespace } from '../namespace/namespace.js';
import { targetWriteFailed } from './catalog-errors.js';
import { type ExistingTarget } from './target-plan.js';

/**
 * The existing target namespaces among `namespaces`, by namespace.
 *
 * @throws {@link TargetWriteError} when the target cannot be read
 * @internal
 */
export async function readExistingTargets(
  target: MongoClient,
  namespaces: readonly string[]
): Promise<Map<string, ExistingTarget>> {
  const byDb = new Map<string, string[]>();
  for (const ns of namespaces) {
    const { db, coll } = splitNamespace(ns);
    const names = byDb.get(db) ?? [];
    names.push(coll);
    byDb.set(db, names);
  }
  const existing = new Map<string, ExistingTarget>();
  for (const [db, names] of byDb) {
    for (const listed of await listNamed(target, db, names)) {
      const ns = `${db}.${String(listed.name)}`;
      const type = String(listed.type);
      const options = (listed.options as Document | undefined) ?? {};
      const empty = type === 'view' || (await isEmpty(target, db, String(listed.name)));
      existing.set(ns, { type, options, empty });
    }
  }
  return existing;
}

async function listNamed(target: MongoClient, db: string, names: string[]): Promise<Document[]> {
  try {
    return await target
      .db(db)
      .listCollections({ name: { $in: names } }, { nameOnly: false, ...EXACT_DECODE_OPTIONS })
      .toArray();
  } catch (error) {
    throw targetWriteFailed(`Listing the collections of target database ${db}`, error);
  }
}

async function isEmpty(target: MongoClient, db: string, coll: string): Promise<boolean> {
  try {
    const first = await target
      .db(db)
      .collection(coll)
      .findOne({}, { projection: { _id: 1 } });
    return first === null;
  } catch (error) {
    throw targetWriteFailed(`Reading target collection ${db}.${coll}`, error, `${db}.${coll}`);
  }
}
