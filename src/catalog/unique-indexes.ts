/**
 * Unique secondary indexes while the target is not consistent.
 *
 * A mongod secondary relaxes unique constraints while it applies a batch: the state is
 * consistent only at batch boundaries, and the primary already enforced them. A replicator
 * writes to a primary, which enforces them at every write, while the target passes through
 * states the source never had: the copy reads each document at another moment, the catch-up
 * replays writes over later versions, and a restart replays a stretch the target already holds.
 * A value that moves between documents (two users swapping emails through a temporary value)
 * then collides for a moment.
 *
 * So, as mongosync does, such an index is kept non-unique (*relaxed*) while the target may be
 * inconsistent, and made unique again (*enforced*) once it is consistent: on MongoDB 6.0+ by
 * `collMod` `prepareUnique` then `unique` (which keeps the index and checks it in one scan), on
 * older targets by rebuilding it unique. If duplicates remain then, they are real: the target
 * holds data the source does not, or the source changed during a plain copy.
 *
 * Names and namespaces only: no key value ever leaves this module (a duplicate is document data).
 */
import { type Document, type MongoClient } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { type ReplicationErrorOptions, TargetWriteError } from '../errors.js';
import { serverCode, sideError } from '../lifecycle/side-errors.js';
import { splitNamespace } from '../namespace/namespace.js';
import { isBuiltInIndex } from './index-specs.js';

/**
 * One unique index of a target namespace.
 * @public
 */
export interface UniqueIndexRef {
  /** The target namespace. */
  readonly namespace: string;
  /** The index name. */
  readonly name: string;
}

/**
 * True for an index whose uniqueness can collide while the target is inconsistent: unique (or
 * being prepared to be), and not the built-in `_id` index.
 * @internal
 */
export function isUniqueSecondary(spec: Readonly<Document>): boolean {
  return !isBuiltInIndex(spec) && (spec.unique === true || spec.prepareUnique === true);
}

/**
 * `spec` without its uniqueness: what is built on the target while it may be inconsistent.
 * @internal
 */
export function relaxedSpec(spec: Readonly<Document>): Document {
  const out: Document = {};
  for (const [field, value] of Object.entries(spec)) {
    if (field !== 'unique' && field !== 'prepareUnique') out[field] = value;
  }
  return out;
}

/** MongoDB 6.0 (wire version 17) converts an index to unique in place (`collMod`). */
const CONVERT_IN_PLACE_WIRE_VERSION = 17;
/** CannotConvertIndexToUnique: duplicates stand in the way. */
const CANNOT_CONVERT = 359;
const DUPLICATE_KEY = 11000;
const INDEX_NOT_FOUND = 27;

/**
 * An index that cannot be made unique again because the target holds duplicate keys for it.
 * @internal
 */
export class UniqueIndexDuplicatesError extends TargetWriteError {
  constructor(message: string, options: ReplicationErrorOptions) {
    super(message, false, options);
  }
}

/**
 * Reads and changes the unique indexes of one target.
 * @internal
 */
export class UniqueIndexes {
  #inPlace: Promise<boolean> | undefined;

  /**
   * @param target - The target client.
   * @param beforeWrite - Runs right before every change of an index; throwing stops it.
   */
  constructor(
    private readonly target: MongoClient,
    private readonly beforeWrite: () => void = () => {}
  ) {}

  /**
   * Makes the unique index `name` of `namespace` non-unique (rebuilt with the same name, key and
   * other options). Nothing to do when it is not unique, or gone.
   * @returns true when it was unique and is now relaxed
   */
  async relax(namespace: string, name: string): Promise<boolean> {
    const spec = await this.#spec(namespace, name);
    if (spec === undefined || !isUniqueSecondary(spec)) return false;
    const { db, coll } = splitNamespace(namespace);
    const database = this.target.db(db);
    await this.#run(`Relaxing unique index ${name} of ${namespace}`, namespace, async () => {
      this.beforeWrite();
      await database.command({ dropIndexes: coll, index: name }).catch((error: unknown) => {
        if (serverCode(error) !== INDEX_NOT_FOUND) throw error;
      });
      await database.command({ createIndexes: coll, indexes: [relaxedSpec(spec)] });
    });
    return true;
  }

  /**
   * Makes the index `name` of `namespace` unique again.
   * @returns false when the index is gone (dropped meanwhile), true once it is unique
   * @throws {@link TargetWriteError} naming the index (never a key) when duplicates remain
   */
  async enforce(namespace: string, name: string): Promise<boolean> {
    const spec = await this.#spec(namespace, name);
    if (spec === undefined) return false;
    if (spec.unique === true) return true;
    const { db, coll } = splitNamespace(namespace);
    const database = this.target.db(db);
    const what = `Making index ${name} of ${namespace} unique again`;
    try {
      const converts = await this.#convertsInPlace();
      this.beforeWrite();
      if (converts) {
        await database.command({ collMod: coll, index: { name, prepareUnique: true } });
        await database.command({ collMod: coll, index: { name, unique: true } });
      } else {
        await database.command({ dropIndexes: coll, index: name });
        await database.command({
          createIndexes: coll,
          indexes: [{ ...relaxedSpec(spec), unique: true }]
        });
      }
    } catch (error) {
      const code = serverCode(error);
      if (code === CANNOT_CONVERT || code === DUPLICATE_KEY) {
        throw new UniqueIndexDuplicatesError(
          `${what} failed: the target holds documents with duplicate keys for it`,
          {
            namespace,
            cause: error,
            hint: 'The target holds data the source does not (a conflict, or another writer), or a plain copy (mode "full") read a source that changed meanwhile; mode "all" ends consistent. Remove the duplicates on the target and restart'
          }
        );
      }
      throw sideError('target', error, { action: what, namespace });
    }
    return true;
  }

  /** The unique secondary indexes of each target namespace in `namespaces`. */
  async uniqueIndexesOf(namespaces: Iterable<string>): Promise<UniqueIndexRef[]> {
    const found: UniqueIndexRef[] = [];
    for (const namespace of namespaces) {
      for (const spec of await this.#indexes(namespace)) {
        if (isUniqueSecondary(spec)) found.push({ namespace, name: String(spec.name) });
      }
    }
    return found;
  }

  async #spec(namespace: string, name: string): Promise<Document | undefined> {
    return (await this.#indexes(namespace)).find(spec => spec.name === name);
  }

  async #indexes(namespace: string): Promise<Document[]> {
    const { db, coll } = splitNamespace(namespace);
    try {
      return await this.target.db(db).collection(coll).listIndexes(EXACT_DECODE_OPTIONS).toArray();
    } catch (error) {
      if (serverCode(error) === 26) return []; // NamespaceNotFound: nothing to change
      throw sideError('target', error, {
        action: `Listing the indexes of ${namespace}`,
        namespace
      });
    }
  }

  #convertsInPlace(): Promise<boolean> {
    this.#inPlace ??= this.target
      .db('admin')
      .command({ hello: 1 })
      .then(hello => Number(hello.maxWireVersion) >= CONVERT_IN_PLACE_WIRE_VERSION)
      .catch(() => false);
    return this.#inPlace;
  }

  async #run(action: string, namespace: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      throw sideError('target', error, { action, namespace });
    }
  }
}
