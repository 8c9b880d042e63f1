/**
 * What the verifier reads from the catalogs beyond what the catalog copier's source reader
 * gives: every namespace of the target with its kind and options, the source's database names,
 * and the indexes of one collection on either side. Catalog documents keep their exact BSON
 * types, as the copier reads them.
 */
import { type Document, type MongoClient } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { sourceReadFailed, targetWriteFailed } from '../catalog/catalog-errors.js';
import { managedByServer } from '../catalog/source-catalog-reader.js';
import { splitNamespace } from '../namespace/namespace.js';

/** NamespaceNotFound: the collection was dropped between listing and reading. */
const NAMESPACE_NOT_FOUND = 26;

/**
 * A namespace on the target, as `listCollections` reports it.
 * @internal
 */
export interface TargetNamespace {
  /** `collection`, `timeseries` or `view`. */
  readonly type: string;
  readonly options: Readonly<Document>;
}

/**
 * Which side a read goes to, for error types and messages.
 * @internal
 */
export type Side = 'source' | 'target';

/**
 * A read failure on `side` as a typed error: {@link SourceReadError} on the source,
 * {@link TargetWriteError} on the target (the error every target access raises, as in the
 * catalog copier).
 * @internal
 */
export function readFailed(side: Side, action: string, error: unknown, namespace?: string): Error {
  return side === 'source'
    ? sourceReadFailed(action, error, namespace)
    : targetWriteFailed(action, error, namespace);
}

/**
 * The names of the databases on `side`, `local` left out (it is never replicated).
 * @internal
 */
export async function listDatabaseNames(client: MongoClient, side: Side): Promise<string[]> {
  try {
    const reply = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
    const databases = reply.databases as readonly { readonly name: string }[];
    return databases.map(database => database.name).filter(name => name !== 'local');
  } catch (error) {
    throw readFailed(side, `Listing the ${side} databases`, error);
  }
}

/**
 * Every namespace of the target outside `local`, except those mongod manages itself
 * (`system.views`, `system.buckets.*`, `system.profile`), by namespace.
 * @internal
 */
export async function readTargetNamespaces(
  target: MongoClient
): Promise<Map<string, TargetNamespace>> {
  const namespaces = new Map<string, TargetNamespace>();
  for (const db of await listDatabaseNames(target, 'target')) {
    let listed: Document[];
    try {
      listed = await target
        .db(db)
        .listCollections({}, { nameOnly: false, ...EXACT_DECODE_OPTIONS })
        .toArray();
    } catch (error) {
      throw readFailed('target', `Listing the collections of target database ${db}`, error);
    }
    for (const entry of listed) {
      const coll = String(entry.name);
      if (managedByServer(coll)) continue;
      namespaces.set(`${db}.${coll}`, {
        type: String(entry.type ?? 'collection'),
        options: (entry.options as Document | undefined) ?? {}
      });
    }
  }
  return namespaces;
}

/**
 * The index specs of collection `ns` on `side`, exact BSON types; empty when it does not exist.
 * @internal
 */
export async function readIndexes(
  client: MongoClient,
  side: Side,
  ns: string
): Promise<Document[]> {
  const { db, coll } = splitNamespace(ns);
  try {
    return await client.db(db).collection(coll).listIndexes(EXACT_DECODE_OPTIONS).toArray();
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === NAMESPACE_NOT_FOUND) return [];
    throw readFailed(side, `Listing the indexes of ${ns} on the ${side}`, error, ns);
  }
}
