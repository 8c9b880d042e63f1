/**
 * What a shard does to its own data and oplog for the cluster (not through a client command):
 * create a sharded collection under its cluster-wide UUID, write migration inserts and range
 * deletions with `fromMigrate: true`, and the no-op entries sharding writes for change streams.
 */
import { type Binary } from 'bson';

import { type BDoc, type BValue } from '../bson/values.js';
import { Collection } from '../mongod/collection.js';
import { type Mongod } from '../mongod/mongod.js';

/**
 * The collection on a shard with the same UUID, options and indexes as on `source` (a recipient's
 * cloneCollectionIndexesAndOptions). Its `create` and `createIndexes` entries are logged with
 * `fromMigrate: true`, so change streams see the collection created once, on its primary shard.
 */
export function ensureCollectionLike(target: Mongod, source: Collection): Collection {
  const existing = target.catalog.collection(source.db, source.name);
  if (existing) return existing;
  const copy = new Collection(source.db, source.name, source.uuid, source.options, source.type);
  target.catalog.adopt(copy);
  const o: BDoc = new Map<string, BValue>([['create', source.name]]);
  for (const [key, value] of source.options) o.set(key, value);
  const idIndex = copy.findIndex('_id_');
  if (idIndex && !source.options.has('clusteredIndex')) o.set('idIndex', idIndex.spec);
  target.writer.append({
    op: 'c',
    ns: `${source.db}.$cmd`,
    ui: source.uuid,
    o,
    fromMigrate: true
  });
  for (const index of source.indexes) {
    if (index.name === '_id_') continue;
    copy.addIndex(index.spec);
    const entry: BDoc = new Map<string, BValue>([['createIndexes', source.name]]);
    for (const [key, value] of index.spec) entry.set(key, value);
    target.writer.append({
      op: 'c',
      ns: `${source.db}.$cmd`,
      ui: source.uuid,
      o: entry,
      fromMigrate: true
    });
  }
  return copy;
}

/** A recipient's cloned (or re-sent) document: an insert, or a replacement if it has one. */
export function migrationUpsert(target: Mongod, collection: Collection, doc: BDoc): void {
  const existing = collection.get(doc.get('_id'));
  const documentKey = target.documentKeyOf?.(collection.ns, doc);
  if (existing) {
    collection.replace(existing, doc);
    target.writer.append({
      op: 'u',
      ns: collection.ns,
      ui: collection.uuid,
      o: doc,
      o2: documentKey ?? new Map([['_id', doc.get('_id')]]),
      fromMigrate: true
    });
    return;
  }
  collection.insert(doc);
  target.writer.append({
    op: 'i',
    ns: collection.ns,
    ui: collection.uuid,
    o: doc,
    o2: documentKey && target.profile.maxWireVersion >= 17 ? documentKey : undefined,
    fromMigrate: true
  });
}

/** A migration or range deletion removing a document: a `d` entry with `fromMigrate: true`. */
export function migrationDelete(target: Mongod, collection: Collection, doc: BDoc): void {
  if (!collection.get(doc.get('_id'))) return;
  collection.remove(doc);
  target.writer.append({
    op: 'd',
    ns: collection.ns,
    ui: collection.uuid,
    o: target.documentKeyOf?.(collection.ns, doc) ?? new Map([['_id', doc.get('_id')]]),
    fromMigrate: true
  });
}

/** A no-op entry on a namespace (onInternalOpMessage): `{op: 'n', ns, ui, o, o2}`. */
export function noop(target: Mongod, ns: string, ui: Binary | undefined, o: BDoc, o2: BDoc): void {
  target.writer.append({ op: 'n', ns, ui, o, o2 });
}
