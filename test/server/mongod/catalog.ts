/**
 * Databases and their collections, with mongod's namespace rules and collection UUIDs. This layer
 * changes the catalog only; oplog entries for DDL are written by the command layer around it.
 */
import { UUID } from 'bson';

import { type BDoc } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { Collection, type CollectionType } from './collection.js';

export class Database {
  readonly collections = new Map<string, Collection>();
  constructor(readonly name: string) {}
}

const INVALID_DB_CHARS = /[/\\. "$\0]/;

/** Throws mongod's InvalidNamespace error for a bad database name. */
export function checkDatabaseName(db: string): void {
  if (db.length === 0 || INVALID_DB_CHARS.test(db) || db.length > 63) {
    throw new ServerError(73, `Invalid database name: '${db}'`);
  }
}

/** Throws mongod's InvalidNamespace error for a collection name a user may not create. */
export function checkCollectionName(db: string, coll: string): void {
  if (coll.length === 0 || coll.includes('\0') || coll.startsWith('.') || coll.includes('$')) {
    throw new ServerError(73, `Invalid collection name: ${coll}`);
  }
  if (
    coll.startsWith('system.') &&
    !['system.js', 'system.views', 'system.profile', 'system.buckets'].some(
      allowed => coll === allowed || coll.startsWith('system.buckets.')
    )
  ) {
    throw new ServerError(20, `Invalid system namespace: ${db}.${coll}`);
  }
}

export class Catalog {
  readonly databases = new Map<string, Database>();

  database(name: string): Database | undefined {
    return this.databases.get(name);
  }

  collection(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.collections.get(name);
  }

  /** Adds a collection (the caller has checked it does not exist). */
  create(db: string, name: string, options: BDoc, type: CollectionType = 'collection'): Collection {
    let database = this.databases.get(db);
    if (!database) {
      database = new Database(db);
      this.databases.set(db, database);
    }
    const collection = new Collection(db, name, new UUID(), options, type);
    database.collections.set(name, collection);
    return collection;
  }

  /** Registers a collection built elsewhere (a transaction's new collection) under its namespace. */
  adopt(collection: Collection): Collection {
    let database = this.databases.get(collection.db);
    if (!database) {
      database = new Database(collection.db);
      this.databases.set(collection.db, database);
    }
    collection.onWrite = undefined;
    database.collections.set(collection.name, collection);
    return collection;
  }

  /** Removes a collection; an emptied database disappears, as on mongod. */
  drop(db: string, name: string): Collection | undefined {
    const database = this.databases.get(db);
    const collection = database?.collections.get(name);
    if (!database || !collection) return undefined;
    database.collections.delete(name);
    if (database.collections.size === 0) this.databases.delete(db);
    return collection;
  }

  /** Moves a collection to a new namespace, keeping its UUID and data. */
  rename(collection: Collection, toDb: string, toName: string): void {
    this.drop(collection.db, collection.name);
    let database = this.databases.get(toDb);
    if (!database) {
      database = new Database(toDb);
      this.databases.set(toDb, database);
    }
    collection.db = toDb;
    collection.name = toName;
    database.collections.set(toName, collection);
  }
}
