/**
 * `$out`: replaces the target collection with the pipeline's results, as mongod 4.4–7.0 do it
 * (DocumentSourceOut): the results go into a temporary `<db>.tmp.agg_out.<UUID>` collection
 * created with `temp: true` and the target's options and indexes, which is then renamed over the
 * target (`dropTarget`). The oplog therefore shows the `create`, the `createIndexes`, one insert
 * per document on the temporary namespace, and the `renameCollection`; a failure drops the
 * temporary collection instead.
 */
import { UUID } from 'bson';

import { type BDoc, type BValue, isDoc, typeAlias } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from './mongod.js';
import { type WriteOrigin } from './write-path.js';

/** Where `$out` writes. */
export interface OutTarget {
  readonly db: string;
  readonly coll: string;
}

const INTERNAL_DATABASES = new Set(['admin', 'local', 'config']);

/** Parses `{$out: 'coll'}` or `{$out: {db, coll}}` (DocumentSourceOutSpec) with mongod's checks. */
export function parseOut(spec: BValue, defaultDb: string, inTransaction: boolean): OutTarget {
  let target: OutTarget;
  if (typeof spec === 'string') {
    target = { db: defaultDb, coll: spec };
  } else if (isDoc(spec)) {
    for (const key of spec.keys()) {
      if (key === 'timeseries')
        throw new ServerError(
          238,
          "$out 'timeseries' is not supported by the mongo-replicate test server"
        );
      if (key !== 'db' && key !== 'coll') {
        throw new ServerError(40415, `BSON field '$out.${key}' is an unknown field.`);
      }
    }
    for (const key of ['db', 'coll']) {
      const value = spec.get(key);
      if (value === undefined) {
        throw new ServerError(40414, `BSON field '$out.${key}' is missing but a required field`, {
          codeName: 'Location40414'
        });
      }
      if (typeof value !== 'string') {
        throw new ServerError(
          14,
          `BSON field '$out.${key}' is the wrong type '${typeAlias(value)}', expected type 'string'`
        );
      }
    }
    target = { db: spec.get('db') as string, coll: spec.get('coll') as string };
  } else {
    throw new ServerError(
      16990,
      `$out only supports a string or object argument, but found ${typeAlias(spec)}`
    );
  }
  if (inTransaction) throw new ServerError(263, '$out cannot be used in a transaction');
  if (target.db.length === 0 || target.coll.length === 0 || /[/\\. "$\0]/.test(target.db)) {
    throw new ServerError(73, `Invalid $out target namespace, ${target.db}.${target.coll}`);
  }
  if (target.coll.startsWith('system.')) {
    throw new ServerError(17385, `Can't $out to special collection: ${target.coll}`);
  }
  if (INTERNAL_DATABASES.has(target.db)) {
    throw new ServerError(31321, `Can't $out to internal database: ${target.db}`);
  }
  return target;
}

/** Writes `docs` into the target through a temporary collection, then renames it over. */
export function runOut(mongod: Mongod, target: OutTarget, docs: BDoc[], origin: WriteOrigin): void {
  const existing = mongod.catalog.collection(target.db, target.coll);
  const ns = `${target.db}.${target.coll}`;
  if (existing?.type === 'view') {
    throw new ServerError(166, `Namespace ${ns} is a view, not a collection`);
  }
  if (existing?.capped) {
    throw new ServerError(17152, `namespace '${ns}' is capped so it can't be used for $out`);
  }
  const tempName = `tmp.agg_out.${new UUID().toHexString(true)}`;
  const options: BDoc = new Map<string, BValue>([['temp', true]]);
  for (const [key, value] of existing?.options ?? []) options.set(key, value);
  mongod.ddl.create(target.db, tempName, options);
  try {
    const specs = (existing?.indexes ?? [])
      .filter(index => index.name !== '_id_')
      .map(index => index.spec);
    if (specs.length > 0) mongod.ddl.createIndexes(target.db, tempName, specs);
    for (const doc of docs) mongod.writes.insert(target.db, tempName, doc, origin);
  } catch (error) {
    mongod.ddl.drop(target.db, tempName);
    throw error;
  }
  mongod.ddl.rename(`${target.db}.${tempName}`, ns, true);
  // The rename does not keep the collection temporary (`stayTemp: false`).
  mongod.catalog.collection(target.db, target.coll)?.options.delete('temp');
}
