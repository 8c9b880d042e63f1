/**
 * Namespaces (`db.collection`): parsing, formatting and the naming rules mongod enforces, so a bad
 * filter or rename rule is rejected when the options are read rather than by the target mid-run.
 */
import { InvalidConfigError } from '../errors.js';

/**
 * A parsed namespace: a database name and a collection name.
 * @public
 */
export interface Namespace {
  /** The database name, such as `shop`. */
  readonly db: string;
  /** The collection name, such as `orders` or `orders.archive` (collection names may hold dots). */
  readonly coll: string;
}

/**
 * Naming limits mongod enforces on every platform (the Windows-only characters `*<>:|?` are not
 * checked, because the target need not run on Windows).
 * @public
 */
export const namespaceLimits = Object.freeze({
  /** Longest database name, in UTF-8 bytes. */
  maxDatabaseBytes: 63,
  /** Longest full namespace (`db.coll`), in UTF-8 bytes (MongoDB 4.4+). */
  maxNamespaceBytes: 255,
  /** Characters a database name may not contain. */
  forbiddenDatabaseChars: '/\\. "$\0'
} as const);

/**
 * Collection names that legitimately contain `$`: command namespaces and the legacy master/slave
 * oplog. Everything else with a `$` is rejected, as mongod does.
 */
const SPECIAL_COLLECTIONS: ReadonlySet<string> = new Set(['$cmd', 'oplog.$main']);

const FORBIDDEN_DB_CHARS = /[/\\. "$\0]/;
const utf8 = new TextEncoder();

/**
 * Why `db` is not a valid database name, or `undefined` when it is.
 * @internal
 */
export function databaseNameProblem(db: string): string | undefined {
  if (db.length === 0) return 'a database name must not be empty';
  const bad = FORBIDDEN_DB_CHARS.exec(db);
  if (bad) {
    return `database name ${JSON.stringify(db)} contains ${JSON.stringify(bad[0])}; database names may not contain / \\ . space " $ or NUL`;
  }
  const bytes = utf8.encode(db).length;
  if (bytes > namespaceLimits.maxDatabaseBytes) {
    return `database name ${JSON.stringify(db)} is ${bytes} bytes long; the limit is ${namespaceLimits.maxDatabaseBytes}`;
  }
  return undefined;
}

/**
 * Why `coll` is not a valid collection name, or `undefined` when it is.
 * @internal
 */
export function collectionNameProblem(coll: string): string | undefined {
  if (coll.length === 0) return 'a collection name must not be empty';
  if (coll.startsWith('.')) return `collection name ${JSON.stringify(coll)} starts with "."`;
  if (coll.includes('\0')) return `collection name ${JSON.stringify(coll)} contains NUL`;
  if (coll.includes('$') && !SPECIAL_COLLECTIONS.has(coll)) {
    return `collection name ${JSON.stringify(coll)} contains "$"`;
  }
  return undefined;
}

/**
 * Throws {@link InvalidConfigError} naming `field` unless `db` is a valid database name.
 * @internal
 */
export function validateDatabaseName(db: string, field: string): void {
  const problem = databaseNameProblem(db);
  if (problem !== undefined) throw new InvalidConfigError(field, problem);
}

/**
 * Throws {@link InvalidConfigError} naming `field` unless `coll` is a valid collection name.
 * @internal
 */
export function validateCollectionName(coll: string, field: string): void {
  const problem = collectionNameProblem(coll);
  if (problem !== undefined) throw new InvalidConfigError(field, problem);
}

/**
 * Splits `db.coll` at its first dot without validating anything. A string with no dot is a
 * database name with an empty collection. Cheap: the hot path of the applier uses it.
 * @internal
 */
export function splitNamespace(ns: string): Namespace {
  const dot = ns.indexOf('.');
  return dot < 0 ? { db: ns, coll: '' } : { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
}

/**
 * Parses and validates a full `db.collection` namespace.
 *
 * @param ns - The namespace, such as `shop.orders`.
 * @param field - The option path reported in the error, such as `filter.rename["a.b"]`.
 * @returns The database and collection parts.
 * @throws {@link InvalidConfigError} when a part is missing or breaks mongod's naming rules.
 * @public
 */
export function parseNamespace(ns: string, field = 'namespace'): Namespace {
  const dot = ns.indexOf('.');
  if (dot < 0) {
    throw new InvalidConfigError(
      field,
      `${JSON.stringify(ns)} is not a namespace; expected "database.collection"`
    );
  }
  const parsed = { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
  validateDatabaseName(parsed.db, field);
  validateCollectionName(parsed.coll, field);
  const bytes = utf8.encode(ns).length;
  if (bytes > namespaceLimits.maxNamespaceBytes) {
    throw new InvalidConfigError(
      field,
      `namespace ${JSON.stringify(ns)} is ${bytes} bytes long; the limit is ${namespaceLimits.maxNamespaceBytes}`
    );
  }
  return parsed;
}

/**
 * Formats a namespace as `db.coll`.
 * @public
 */
export function formatNamespace(ns: Namespace): string {
  return `${ns.db}.${ns.coll}`;
}

/**
 * True when `ns` is a valid `db.collection` namespace; never throws.
 * @public
 */
export function isValidNamespace(ns: string): boolean {
  const dot = ns.indexOf('.');
  if (dot < 0) return false;
  return (
    databaseNameProblem(ns.slice(0, dot)) === undefined &&
    collectionNameProblem(ns.slice(dot + 1)) === undefined &&
    utf8.encode(ns).length <= namespaceLimits.maxNamespaceBytes
  );
}
