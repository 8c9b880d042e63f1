/**
 * Index specifications as `createIndexes` accepts them and `listIndexes` returns them: validated,
 * normalised the way mongod stores them (`{v: 2, key, name, ...options}`), and compared for the
 * "already exists" / "conflict" rules.
 */
import { Double, Int32 } from 'bson';

import {
  type BDoc,
  type BValue,
  isDoc,
  isNumber,
  toNumber,
  valuesEqualBinary as valuesEqual
} from '../bson/values.js';
import { parseCollation } from '../engine/collation/collation-spec.js';
import { ServerError } from '../engine/server-error.js';

const ALLOWED_OPTIONS = new Set([
  'unique',
  'sparse',
  'partialFilterExpression',
  'expireAfterSeconds',
  'hidden',
  'collation',
  'weights',
  'default_language',
  'language_override',
  'textIndexVersion',
  '2dsphereIndexVersion',
  'bits',
  'min',
  'max',
  'wildcardProjection',
  'storageEngine',
  'clustered',
  'prepareUnique'
]);

/** Fields accepted and dropped, as mongod drops them (deprecated or informational). */
const IGNORED_OPTIONS = new Set(['background', 'ns', 'dropDups', 'v']);

const SPECIAL_KEY_TYPES = new Set(['hashed', 'text', '2dsphere', '2d']);

/** The `_id` index every ordinary collection has; it takes the collection's default collation. */
export function idIndexSpec(collation?: BValue): BDoc {
  const spec = new Map<string, BValue>([
    ['v', new Int32(2)],
    ['key', new Map([['_id', new Int32(1)]])],
    ['name', '_id_']
  ]);
  if (isDoc(collation)) spec.set('collation', collation);
  return spec;
}

function stringify(value: BValue): string {
  if (isDoc(value)) {
    return `{ ${[...value].map(([k, v]) => `${k}: ${stringify(v)}`).join(', ')} }`;
  }
  if (Array.isArray(value)) return `[ ${value.map(stringify).join(', ')} ]`;
  if (typeof value === 'string') return `"${value}"`;
  if (isNumber(value)) return String(toNumber(value));
  return String(value);
}

/** mongod's rendering of a spec in error messages. */
export function describeSpec(spec: BDoc): string {
  return stringify(spec);
}

/**
 * Validates and normalises one index spec from `createIndexes.indexes`. As on mongod, an
 * explicit collation is stored expanded (the simple one as no collation), and a spec without one
 * takes the collection's default collation (`defaultCollation`, as stored).
 */
export function normalizeIndexSpec(raw: BValue, defaultCollation?: BValue): BDoc {
  if (!isDoc(raw))
    throw new ServerError(14, "BSON field 'createIndexes.indexes' is the wrong type");
  const key = raw.get('key');
  const name = raw.get('name');
  if (!isDoc(key) || key.size === 0) {
    throw new ServerError(67, 'Index key pattern must be a non-empty object', {
      codeName: 'CannotCreateIndex'
    });
  }
  if (typeof name !== 'string' || name.length === 0) {
    throw new ServerError(
      9,
      `Error in specification ${describeSpec(raw)} :: caused by :: The 'name' field is a required property of an index specification`
    );
  }
  let text = false;
  for (const [field, direction] of key) {
    if (typeof direction === 'string') {
      if (!SPECIAL_KEY_TYPES.has(direction)) {
        throw new ServerError(67, `Unknown index plugin '${direction}'`);
      }
      if (direction === 'text') text = true;
    } else if (!isNumber(direction) || toNumber(direction) === 0) {
      throw new ServerError(67, `Values in the index key pattern can't be all zero; key: ${field}`);
    }
  }
  const spec: BDoc = new Map<string, BValue>([['v', new Int32(2)]]);
  if (text) {
    spec.set('key', textKey(key));
  } else {
    spec.set('key', key);
  }
  spec.set('name', name);
  for (const [option, value] of raw) {
    if (option === 'key' || option === 'name') continue;
    if (IGNORED_OPTIONS.has(option)) continue;
    if (!ALLOWED_OPTIONS.has(option)) {
      throw new ServerError(
        197,
        `The field '${option}' is not valid for an index specification. Specification: ${describeSpec(raw)}`
      );
    }
    if (option === 'unique' || option === 'sparse' || option === 'hidden') {
      // mongod stores these booleans only when true (a `unique: false` spec lists without it).
      if (value === true || (isNumber(value) && toNumber(value) !== 0)) spec.set(option, true);
      continue;
    }
    if (option === 'expireAfterSeconds' && !isNumber(value)) {
      throw new ServerError(
        2,
        `TTL index 'expireAfterSeconds' option must be numeric, but received a type of '${typeof value}'. Index spec: ${describeSpec(raw)}`
      );
    }
    if (option === 'partialFilterExpression' && !isDoc(value)) {
      throw new ServerError(14, "'partialFilterExpression' option must be specified as an object");
    }
    if (option === 'collation') continue;
    spec.set(option, value);
  }
  // mongod appends the collation after the other options.
  const collation = raw.has('collation') ? parseCollation(raw.get('collation')) : defaultCollation;
  if (isDoc(collation)) spec.set('collation', collation);
  if (spec.get('unique') === true && [...key.values()].includes('hashed')) {
    throw new ServerError(
      67,
      'Currently hashed indexes cannot guarantee uniqueness. Use a regular index.'
    );
  }
  if (text) {
    if (!spec.has('weights')) spec.set('weights', textWeights(key));
    if (!spec.has('default_language')) spec.set('default_language', 'english');
    if (!spec.has('language_override')) spec.set('language_override', 'language');
    if (!spec.has('textIndexVersion')) spec.set('textIndexVersion', new Int32(3));
  }
  if ([...key.values()].includes('2dsphere') && !spec.has('2dsphereIndexVersion')) {
    spec.set('2dsphereIndexVersion', new Int32(3));
  }
  return spec;
}

/** mongod rewrites `{a: 'text'}` to `{_fts: 'text', _ftsx: 1}` keeping other (prefix/suffix) fields. */
function textKey(key: BDoc): BDoc {
  const out: BDoc = new Map();
  let inserted = false;
  for (const [field, direction] of key) {
    if (direction === 'text') {
      if (!inserted) {
        out.set('_fts', 'text');
        out.set('_ftsx', new Int32(1));
        inserted = true;
      }
    } else {
      out.set(field, direction);
    }
  }
  return out;
}

function textWeights(key: BDoc): BDoc {
  const weights: BDoc = new Map();
  for (const [field, direction] of key) {
    if (direction === 'text') weights.set(field, new Int32(1));
  }
  return weights;
}

/** The options that make two specs with the same key "different indexes" for conflicts. */
function comparableOptions(spec: BDoc): BDoc {
  const out: BDoc = new Map();
  for (const [k, v] of spec) {
    if (k !== 'v' && k !== 'name' && k !== 'key') out.set(k, v);
  }
  return out;
}

/** True when two normalised specs describe the same index (same key and options). */
export function sameIndex(a: BDoc, b: BDoc): boolean {
  return (
    valuesEqual(a.get('key'), b.get('key')) &&
    valuesEqual(sortedDoc(comparableOptions(a)), sortedDoc(comparableOptions(b)))
  );
}

/** True when two specs have the same key pattern. */
export function sameKey(a: BDoc, b: BDoc): boolean {
  return valuesEqual(a.get('key'), b.get('key'));
}

function sortedDoc(docValue: BDoc): BDoc {
  return new Map([...docValue].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A default TTL seconds value as stored (mongod keeps the client's numeric type). */
export function ttlValue(value: BValue): BValue {
  return isNumber(value) ? value : new Double(Number(value));
}
