/**
 * The document an upsert inserts when nothing matched (UpdateDriver::populateDocumentWithQueryFields
 * then the update applied as an insert): the query's equality conditions seed it.
 */
import { BSONRegExp, ObjectId } from 'bson';

import { type BDoc, type BValue, cloneValue, compareStrings } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import {
  applyModifiers,
  applyPipeline,
  applyReplacement,
  isModifierUpdate
} from './apply-update.js';
import type { UpdateContext } from './context.js';
import { idFirst } from './validate.js';

const NONE = Symbol('none');

/** The value a query condition pins the field to, if it is an equality. */
function equalityValue(value: BValue): BValue | typeof NONE {
  if (value instanceof BSONRegExp) return NONE;
  if (!(value instanceof Map)) return value;
  const first = value.keys().next().value;
  if (first === undefined || !first.startsWith('$')) return value;
  if (value.has('$eq')) return value.get('$eq');
  // The query optimizer rewrites a one-element $in without regexes to $eq.
  const list = value.get('$in');
  if (
    value.size === 1 &&
    Array.isArray(list) &&
    list.length === 1 &&
    !(list[0] instanceof BSONRegExp)
  ) {
    return list[0];
  }
  return NONE;
}

function collect(query: BDoc, out: [string, BValue][]): void {
  for (const [key, value] of query) {
    if (key === '$and' || key === '$or') {
      // A one-clause $or is simplified to its clause before equalities are extracted.
      if (!Array.isArray(value) || (key === '$or' && value.length !== 1)) continue;
      for (const member of value) if (member instanceof Map) collect(member, out);
    } else if (!key.startsWith('$')) {
      const eq = equalityValue(value);
      if (eq !== NONE) out.push([key, eq]);
    }
  }
}

/** Equality conditions by dotted path, rejecting paths mongod cannot combine. */
export function queryEqualities(query: BDoc): Map<string, BValue> {
  const found: [string, BValue][] = [];
  collect(query, found);
  const out = new Map<string, BValue>();
  for (const [path, value] of found) {
    for (const other of out.keys()) {
      if (other === path) {
        throw new ServerError(
          54,
          `cannot infer query fields to set, path '${path}' is matched twice`
        );
      }
      if (other.startsWith(path + '.') || path.startsWith(other + '.')) {
        throw new ServerError(
          54,
          `cannot infer query fields to set, both paths '${path}' and '${other}' are matched`
        );
      }
    }
    out.set(path, value);
  }
  return out;
}

/** The seed document: equality paths in sorted order, dotted paths as embedded documents. */
export function seedFromQuery(query: BDoc): BDoc {
  const seed: BDoc = new Map();
  const paths = [...queryEqualities(query)].sort(([a], [b]) => compareStrings(a, b));
  for (const [path, value] of paths) {
    const parts = path.split('.');
    let container = seed;
    for (const part of parts.slice(0, -1)) {
      let next = container.get(part);
      if (!(next instanceof Map)) {
        next = new Map();
        container.set(part, next);
      }
      container = next;
    }
    container.set(parts[parts.length - 1]!, cloneValue(value));
  }
  return idFirst(seed);
}

/**
 * The document an upsert inserts. A replacement takes only `_id` from the query; modifier and
 * pipeline updates start from all equality conditions. `_id` ends up first, generated if absent.
 */
export function buildUpsertDocument(query: BDoc, update: BDoc | BDoc[], ctx: UpdateContext): BDoc {
  const insertCtx: UpdateContext = { ...ctx, isUpsertInsert: true };
  let result: BDoc;
  if (!Array.isArray(update) && !isModifierUpdate(update)) {
    const equalities = queryEqualities(query);
    const seed: BDoc = new Map();
    if (equalities.has('_id')) seed.set('_id', cloneValue(equalities.get('_id')));
    result = applyReplacement(seed, update);
  } else {
    const seed = seedFromQuery(query);
    result = Array.isArray(update)
      ? applyPipeline(seed, update, insertCtx)
      : applyModifiers(seed, update, insertCtx);
  }
  if (!result.has('_id')) result = new Map([['_id', new ObjectId()], ...result]);
  return idFirst(result);
}
