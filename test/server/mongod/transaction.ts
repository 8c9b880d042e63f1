/**
 * A multi-document transaction: private copies of the collections it touches (so its own reads
 * see its writes and nobody else's see them), the oplog operations it will publish, and the
 * documents it has written (for write conflicts with other transactions and at commit).
 *
 * A transaction that writes a document another open transaction has written fails at once with
 * WriteConflict (112, TransientTransactionError), as mongod's first-writer-wins rule does; a
 * document changed outside the transaction after it was first read fails the commit the same way.
 */
import { type Long, UUID } from 'bson';

import { bsonSize } from '../bson/codec.js';
import { type BDoc, type BValue } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Catalog, checkCollectionName, checkDatabaseName } from './catalog.js';
import { type DocumentImages } from './change-stream-images.js';
import { Collection } from './collection.js';
import { type EntryFields } from './oplog-entries.js';

export type TransactionState = 'inProgress' | 'committed' | 'aborted';

/** Documents written by open transactions: `ns` + `_id` key → the transaction holding them. */
export type WriteLocks = Map<string, Transaction>;

export class Transaction {
  state: TransactionState = 'inProgress';
  /** Inner `applyOps` operations, in statement order. */
  readonly ops: BDoc[] = [];
  /** The change-stream images of each operation of `ops` (same index), when recorded. */
  readonly images: (DocumentImages | undefined)[] = [];
  readonly #copies = new Map<string, { copy: Collection; base: Map<string, BDoc> | undefined }>();
  readonly #written = new Map<string, Set<string>>();
  /** Namespaces of the collections this transaction created. */
  readonly #created = new Set<string>();

  constructor(
    readonly txnNumber: Long,
    private readonly catalog: Catalog,
    private readonly locks: WriteLocks
  ) {}

  /** The transaction's view of a collection (its private copy), or undefined if it does not exist. */
  collection(db: string, coll: string): Collection | undefined {
    const ns = `${db}.${coll}`;
    const known = this.#copies.get(ns);
    if (known) return known.copy;
    const real = this.catalog.collection(db, coll);
    if (!real) return undefined;
    if (real.type === 'view') return real;
    const copy = real.copyForTransaction();
    this.#track(ns, copy, new Map(real.records));
    return copy;
  }

  /** Creates a collection inside the transaction (implicitly, by a write), published at commit. */
  ensureCollection(db: string, coll: string): Collection {
    const existing = this.collection(db, coll);
    if (existing) return existing;
    checkDatabaseName(db);
    checkCollectionName(db, coll);
    return this.createCollection(db, coll, new Map());
  }

  /**
   * Creates a collection visible only to this transaction until it commits (MongoDB 4.4+), and
   * logs its `create` inside the transaction's `applyOps`, as mongod does.
   */
  createCollection(db: string, coll: string, options: BDoc): Collection {
    const copy = new Collection(db, coll, new UUID(), options);
    const ns = `${db}.${coll}`;
    this.#track(ns, copy, undefined);
    this.#created.add(ns);
    const o: BDoc = new Map<string, BValue>([['create', coll]]);
    for (const [key, value] of options) o.set(key, value);
    const idIndex = copy.findIndex('_id_');
    if (idIndex && !options.has('clusteredIndex')) o.set('idIndex', idIndex.spec);
    this.capture({ op: 'c', ns: `${db}.$cmd`, ui: copy.uuid, o });
    return copy;
  }

  /** True when this transaction created the collection (createIndexes may then build on it). */
  created(db: string, coll: string): boolean {
    return this.#created.has(`${db}.${coll}`);
  }

  /** Records one oplog operation for the commit's `applyOps`. */
  capture(fields: EntryFields): void {
    const op: BDoc = new Map<string, BValue>([
      ['op', fields.op],
      ['ns', fields.ns]
    ]);
    if (fields.ui) op.set('ui', fields.ui);
    op.set('o', fields.o);
    if (fields.o2) op.set('o2', fields.o2);
    this.ops.push(op);
    this.images.push(fields.images);
  }

  /** Splits the operations into `applyOps` arrays of at most `maxOps` operations and ~`maxBytes`. */
  chunks(maxOps: number, maxBytes: number): BDoc[][] {
    const out: BDoc[][] = [];
    let current: BDoc[] = [];
    let bytes = 0;
    for (const op of this.ops) {
      const size = bsonSize(op) + 8;
      if (current.length > 0 && (current.length >= maxOps || bytes + size > maxBytes)) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(op);
      bytes += size;
    }
    out.push(current);
    return out;
  }

  /**
   * Publishes the written documents to the real collections. Throws WriteConflict (and leaves
   * everything untouched) if a document changed outside the transaction since it was read.
   */
  publish(): void {
    this.checkPublishable();
    for (const ns of this.#created) this.catalog.adopt(this.#copies.get(ns)!.copy);
    for (const [ns, keys] of this.#written) {
      const { copy } = this.#copies.get(ns)!;
      const real = this.catalog.collection(copy.db, copy.name) ?? this.catalog.adopt(copy);
      if (real === copy) continue;
      real.applyChanges(
        [...keys].map(key => [real.records.get(key), copy.records.get(key)] as const)
      );
    }
  }

  /**
   * Throws WriteConflict when publishing would conflict (a namespace created or a document
   * changed outside the transaction); a sharded cluster's participant checks it when it prepares.
   */
  checkPublishable(): void {
    for (const ns of this.#created) {
      const { copy } = this.#copies.get(ns)!;
      // Someone else created the namespace since: the transaction's create conflicts.
      if (this.catalog.collection(copy.db, copy.name)) throw this.#conflict();
    }
    for (const [ns, keys] of this.#written) {
      const { copy, base } = this.#copies.get(ns)!;
      const real = this.catalog.collection(copy.db, copy.name);
      for (const key of keys) {
        const before = base?.get(key);
        const current = real?.records.get(key);
        if (
          before !== current ||
          (base === undefined && real !== undefined && real.uuid !== copy.uuid)
        ) {
          throw this.#conflict();
        }
      }
    }
  }

  /** Releases the documents this transaction holds. */
  release(): void {
    for (const [ns, keys] of this.#written) {
      for (const key of keys) {
        const lock = `${ns}\u0000${key}`;
        if (this.locks.get(lock) === this) this.locks.delete(lock);
      }
    }
  }

  #track(ns: string, copy: Collection, base: Map<string, BDoc> | undefined): void {
    this.#copies.set(ns, { copy, base });
    copy.onWrite = key => {
      const lock = `${ns}\u0000${key}`;
      const holder = this.locks.get(lock);
      if (holder && holder !== this) throw this.#conflict();
      this.locks.set(lock, this);
      let keys = this.#written.get(ns);
      if (!keys) this.#written.set(ns, (keys = new Set()));
      keys.add(key);
    };
  }

  #conflict(): ServerError {
    this.state = 'aborted';
    return new ServerError(
      112,
      'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
      { labels: ['TransientTransactionError'] }
    );
  }
}
