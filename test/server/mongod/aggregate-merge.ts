/**
 * `$merge`: writes the pipeline's results into a collection, matching them to existing documents
 * on the `on` fields, as mongod 4.4–7.0 do it (document_source_merge.cpp): each mode pair is a
 * batch of update statements (replace: a replacement, merge: `$set`, keepExisting:
 * `$setOnInsert`, a pipeline with `let` variables; upserting when not matched documents are
 * inserted), or plain inserts for `whenMatched: 'fail'`, so a match fails with the insert's
 * DuplicateKey error. Writes are unordered: every document is tried, then the first error is
 * reported; `whenNotMatched: 'fail'` reports MergeStageNoMatchingDocument (13113).
 */
import { ObjectId } from 'bson';

import { getPath } from '../bson/paths.js';
import { type BDoc, type BValue, isDoc, typeAlias } from '../bson/values.js';
import { compileExpression, makeScope, MISSING } from '../engine/aggregate/expressions.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from './mongod.js';
import { type WriteOrigin } from './write-path.js';

type WhenMatched = 'replace' | 'keepExisting' | 'merge' | 'fail' | 'pipeline';
type WhenNotMatched = 'insert' | 'discard' | 'fail';

/** A parsed `$merge` stage. */
export interface MergeSpec {
  readonly db: string;
  readonly coll: string;
  readonly on: string[] | undefined;
  readonly whenMatched: WhenMatched;
  readonly pipeline: BDoc[] | undefined;
  readonly whenNotMatched: WhenNotMatched;
  readonly let: BDoc | undefined;
}

/** The mode pairs mongod supports (getMergeStrategyDescriptors). */
const SUPPORTED = new Set([
  'replace/insert',
  'replace/fail',
  'replace/discard',
  'merge/insert',
  'merge/fail',
  'merge/discard',
  'keepExisting/insert',
  'fail/insert',
  'pipeline/insert',
  'pipeline/fail',
  'pipeline/discard'
]);

const MERGE_FIELDS = [
  'into',
  'on',
  'let',
  'whenMatched',
  'whenNotMatched',
  'targetCollectionVersion'
];
const INTERNAL_DATABASES = new Set(['admin', 'local', 'config']);

function wrongType(field: string, value: BValue, expected: string): ServerError {
  return new ServerError(
    14,
    `BSON field '$merge.${field}' is the wrong type '${typeAlias(value)}', expected type '${expected}'`
  );
}

function enumValue<T extends string>(field: string, value: BValue, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw wrongType(field, value, 'string');
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ServerError(
      2,
      `Enumeration value '${value}' for field '$merge.${field}' is not a valid value.`
    );
  }
  return value as T;
}

function parseInto(value: BValue, defaultDb: string): { db: string; coll: string } {
  if (typeof value === 'string') return { db: defaultDb, coll: value };
  if (!isDoc(value)) throw wrongType('into', value, 'string or object');
  const db = value.get('db');
  const coll = value.get('coll');
  if (db !== undefined && typeof db !== 'string') throw wrongType('into.db', db, 'string');
  if (typeof coll !== 'string') {
    throw new ServerError(40414, "BSON field '$merge.into.coll' is missing but a required field", {
      codeName: 'Location40414'
    });
  }
  return { db: db ?? defaultDb, coll };
}

function parseOn(value: BValue): string[] {
  const fields = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(fields) || !fields.every(f => typeof f === 'string')) {
    throw wrongType('on', value, 'string or array');
  }
  const seen = new Set<string>();
  for (const field of fields as string[]) {
    if (seen.has(field)) throw new ServerError(31465, `Found a duplicate field '${field}'`);
    seen.add(field);
  }
  return fields as string[];
}

/** Parses a `$merge` stage with mongod's checks, in its order. */
export function parseMerge(spec: BValue, defaultDb: string, inTransaction: boolean): MergeSpec {
  if (typeof spec !== 'string' && !isDoc(spec)) {
    throw new ServerError(
      14,
      `$merge requires a string or object argument, but found ${typeAlias(spec)}`
    );
  }
  let target = { db: defaultDb, coll: typeof spec === 'string' ? spec : '' };
  let on: string[] | undefined;
  let whenMatched: WhenMatched = 'merge';
  let pipeline: BDoc[] | undefined;
  let whenNotMatched: WhenNotMatched = 'insert';
  let letSpec: BDoc | undefined;
  if (isDoc(spec)) {
    for (const key of spec.keys()) {
      if (!MERGE_FIELDS.includes(key)) {
        throw new ServerError(40415, `BSON field '$merge.${key}' is an unknown field.`);
      }
    }
    if (!spec.has('into')) {
      throw new ServerError(40414, "BSON field '$merge.into' is missing but a required field", {
        codeName: 'Location40414'
      });
    }
    target = parseInto(spec.get('into'), defaultDb);
    if (spec.has('on')) on = parseOn(spec.get('on'));
    const matched = spec.get('whenMatched');
    if (Array.isArray(matched)) {
      if (!matched.every(isDoc)) throw wrongType('whenMatched', matched, 'array of objects');
      whenMatched = 'pipeline';
      pipeline = matched as BDoc[];
    } else if (matched !== undefined) {
      whenMatched = enumValue('whenMatched', matched, ['replace', 'keepExisting', 'merge', 'fail']);
    }
    const notMatched = spec.get('whenNotMatched');
    if (notMatched !== undefined) {
      whenNotMatched = enumValue('whenNotMatched', notMatched, ['insert', 'discard', 'fail']);
    }
    const letValue = spec.get('let');
    if (letValue !== undefined) {
      if (!isDoc(letValue)) throw wrongType('let', letValue, 'object');
      letSpec = letValue;
    }
  }
  const ns = `${target.db}.${target.coll}`;
  if (target.db.length === 0 || target.coll.length === 0 || /[/\\. "$\0]/.test(target.db)) {
    throw new ServerError(73, `Invalid $merge target namespace: '${ns}'`);
  }
  if (!SUPPORTED.has(`${whenMatched}/${whenNotMatched}`)) {
    throw new ServerError(
      51181,
      `Combination of $merge modes 'whenMatched: ${whenMatched}' and 'whenNotMatched: ${whenNotMatched}' is not supported`
    );
  }
  if (inTransaction) throw new ServerError(263, '$merge cannot be used in a transaction');
  if (target.coll.startsWith('system.')) {
    throw new ServerError(31319, `Cannot $merge to special collection: ${target.coll}`);
  }
  if (INTERNAL_DATABASES.has(target.db)) {
    throw new ServerError(31320, `Cannot $merge to internal database: ${target.db}`);
  }
  if (whenMatched === 'pipeline') {
    const newVar = letSpec?.get('new');
    if (newVar !== undefined && newVar !== '$$ROOT') {
      throw new ServerError(
        51273,
        "'let' may not define a value for the reserved 'new' variable other than '$$ROOT'"
      );
    }
  } else if (letSpec) {
    throw new ServerError(
      51199,
      `Cannot use 'let' variables with 'whenMatched: ${whenMatched}' mode`
    );
  }
  return { ...target, on, whenMatched, pipeline, whenNotMatched, let: letSpec };
}

/** Resolves `on` to the fields to match, requiring a unique index on exactly them. */
function mergeOnFields(mongod: Mongod, spec: MergeSpec): string[] {
  if (!spec.on || (spec.on.length === 1 && spec.on[0] === '_id')) return ['_id'];
  const collection = mongod.lookupCollection(spec.db, spec.coll);
  const wanted = new Set(spec.on);
  const supported = collection?.indexes.some(
    index =>
      index.unique &&
      !index.partial &&
      index.keyPaths.length === wanted.size &&
      index.keyPaths.every(path => wanted.has(path))
  );
  if (!supported) {
    throw new ServerError(51183, 'Cannot find index to verify that join fields will be unique');
  }
  return spec.on;
}

/** The `on` values of a result document (the update's query), with mongod's checks. */
function matchQuery(doc: BDoc, fields: string[]): BDoc {
  const query: BDoc = new Map();
  for (const field of fields) {
    const value = getPath(doc, field);
    if (Array.isArray(value)) {
      throw new ServerError(51185, `$merge write error: 'on' field '${field}' is an array`);
    }
    if (value === undefined || value === null) {
      throw new ServerError(
        51132,
        `$merge write error: 'on' field '${field}' cannot be missing, null, undefined or an array`
      );
    }
    query.set(field, value);
  }
  return query;
}

/** The pipeline mode's variables for one result document: `let` evaluated against it. */
function pipelineVars(spec: MergeSpec, doc: BDoc): Map<string, BValue> {
  const letSpec = new Map(spec.let ?? [['new', '$$ROOT']]);
  // mongod adds `new` to a user `let` without it when unmatched documents are inserted.
  if (!letSpec.has('new') && spec.whenNotMatched === 'insert') letSpec.set('new', '$$ROOT');
  const vars = new Map<string, BValue>();
  for (const [name, expr] of letSpec) {
    const value = compileExpression(expr)(makeScope(doc));
    vars.set(name, value === MISSING ? undefined : value);
  }
  return vars;
}

/** Writes `docs` into the `$merge` target; throws the first write error once all were tried. */
export function runMerge(mongod: Mongod, spec: MergeSpec, docs: BDoc[], origin: WriteOrigin): void {
  const fields = mergeOnFields(mongod, spec);
  let firstError: unknown;
  let unmatched = false;
  for (const raw of docs) {
    try {
      const doc =
        fields.includes('_id') && !raw.has('_id')
          ? new Map<string, BValue>([['_id', new ObjectId()], ...raw])
          : raw;
      const q = matchQuery(doc, fields);
      if (spec.whenMatched === 'fail') {
        mongod.writes.insert(spec.db, spec.coll, doc, origin);
        continue;
      }
      const upsert = spec.whenNotMatched === 'insert';
      const outcome =
        spec.whenMatched === 'pipeline'
          ? mongod.writes.update(
              spec.db,
              spec.coll,
              {
                q,
                u: spec.pipeline!,
                upsert: false,
                multi: false,
                updateVars: pipelineVars(spec, doc)
              },
              origin
            )
          : mongod.writes.update(
              spec.db,
              spec.coll,
              {
                q,
                u:
                  spec.whenMatched === 'replace'
                    ? doc
                    : new Map([[spec.whenMatched === 'merge' ? '$set' : '$setOnInsert', doc]]),
                upsert,
                multi: false
              },
              origin
            );
      if (outcome.n > 0 || outcome.upsertedId !== undefined) continue;
      if (spec.whenMatched === 'pipeline' && upsert) {
        // The pipeline mode inserts the source document itself when nothing matches.
        mongod.writes.insert(spec.db, spec.coll, doc, origin);
      } else if (spec.whenNotMatched === 'fail') {
        unmatched = true;
      }
    } catch (error) {
      firstError ??= error;
    }
  }
  if (firstError !== undefined) throw firstError;
  if (unmatched) {
    throw new ServerError(
      13113,
      '$merge could not find a matching document in the target collection for at least one document in the source collection'
    );
  }
}
