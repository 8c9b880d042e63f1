/**
 * Which namespaces a change stream sees (document_source_change_stream.cpp regexes): a collection
 * stream one namespace, a database stream every collection of its database, a cluster stream every
 * database but admin, config and local; `system.*` collections never (no showSystemEvents).
 */

export type StreamScope =
  | { readonly kind: 'collection'; readonly db: string; readonly coll: string }
  | { readonly kind: 'database'; readonly db: string }
  | { readonly kind: 'cluster' };

const INTERNAL_DATABASES = new Set(['admin', 'config', 'local']);

/** True when events on `db.coll` belong to the stream. */
export function watchesCollection(scope: StreamScope, db: string, coll: string): boolean {
  if (INTERNAL_DATABASES.has(db) || coll.startsWith('system.') || coll.startsWith('$'))
    return false;
  if (scope.kind === 'cluster') return true;
  if (scope.kind === 'database') return db === scope.db;
  return db === scope.db && coll === scope.coll;
}

/** True when a database-wide event (dropDatabase) on `db` belongs to the stream. */
export function watchesDatabase(scope: StreamScope, db: string): boolean {
  if (INTERNAL_DATABASES.has(db)) return false;
  return scope.kind === 'cluster' || db === scope.db;
}

/** Whether an event of this type ends the stream with an `invalidate` (check_invalidate.cpp). */
export function invalidates(scope: StreamScope, operationType: string): boolean {
  if (scope.kind === 'collection') {
    return ['drop', 'rename', 'dropDatabase'].includes(operationType);
  }
  return scope.kind === 'database' && operationType === 'dropDatabase';
}

/** Splits `db.coll` at the first dot. */
export function splitNamespace(ns: string): [string, string] {
  const dot = ns.indexOf('.');
  return dot < 0 ? [ns, ''] : [ns.slice(0, dot), ns.slice(dot + 1)];
}
