/**
 * find's sort order: a sort pattern becomes a comparator over documents whose sort keys are
 * generated the way mongod's index key generator does (arrays expand, the key that sorts first
 * under the pattern represents the document).
 */
import { MinKey } from 'bson';

import { isArrayIndex, splitPath } from '../../bson/paths.js';
import { type BDoc, type BValue, compareValues, isNumber, toNumber } from '../../bson/values.js';
import { fieldPathParts } from '../field-path.js';
import { badValue, notImplemented, ServerError } from '../server-error.js';

/** The key of an empty array: mongod keys it as `undefined`, which sorts just below null. */
const EMPTY_ARRAY: unique symbol = Symbol('undefined');
type Key = BValue | typeof EMPTY_ARRAY;

interface Component {
  parts: string[];
  direction: 1 | -1;
}

/**
 * A stable-sort comparator for a find `sort` document. `{$natural: ±1}` is a scan order, not a
 * key: the caller must handle it, and passing it here throws.
 */
export function compileSort(sort: BDoc): (a: BDoc, b: BDoc) => number {
  const components = parseSort(sort);
  const cache = new WeakMap<BDoc, Key[]>();
  const keyOf = (doc: BDoc): Key[] => {
    let key = cache.get(doc);
    if (!key) {
      key = sortKey(doc, components);
      cache.set(doc, key);
    }
    return key;
  };
  return (a, b) => compareKeys(keyOf(a), keyOf(b), components);
}

/**
 * The value a document sorts by on one path: the smallest (ascending) or largest (descending)
 * of the values an array along the path expands to; null when missing, `undefined` for an empty
 * array.
 */
export function sortKeyValue(doc: BDoc, path: string, direction: 1 | -1): BValue {
  const [key] = sortKey(doc, [{ parts: splitPath(path), direction }]);
  return key === EMPTY_ARRAY ? undefined : (key as BValue);
}

function parseSort(sort: BDoc): Component[] {
  const components: Component[] = [];
  for (const [path, value] of sort) {
    if (path === '$natural') {
      throw notImplemented('$natural inside compileSort (the caller handles $natural)');
    }
    if (value instanceof Map) {
      if (value.keys().next().value !== '$meta') {
        throw new ServerError(17312, '$meta is the only expression supported by $sort right now');
      }
      throw notImplemented('$meta sort');
    }
    if (!isNumber(value)) {
      throw new ServerError(15974, `Illegal key in $sort specification: ${path}: ${String(value)}`);
    }
    const n = toNumber(value);
    if (n !== 1 && n !== -1) {
      throw new ServerError(
        15975,
        '$sort key ordering must be 1 (for ascending) or -1 (for descending)'
      );
    }
    components.push({ parts: checkPath(path), direction: n });
  }
  return components;
}

function checkPath(path: string): string[] {
  if (path === '')
    throw new ServerError(40352, 'FieldPath cannot be constructed with empty string');
  return fieldPathParts(path);
}

function compareKey(a: Key, b: Key): number {
  if (a === EMPTY_ARRAY || b === EMPTY_ARRAY) {
    if (a === b) return 0;
    // undefined sits between MinKey and null in mongod's order.
    const other = a === EMPTY_ARRAY ? b : a;
    const sign = a === EMPTY_ARRAY ? 1 : -1;
    return other instanceof MinKey ? sign : -sign;
  }
  return compareValues(a, b);
}

function compareKeys(a: Key[], b: Key[], components: Component[]): number {
  for (let i = 0; i < components.length; i++) {
    const c = compareKey(a[i] as Key, b[i] as Key);
    if (c !== 0) return c * (components[i] as Component).direction;
  }
  return 0;
}

/** The document's sort key: of all the keys it generates, the one that sorts first. */
function sortKey(doc: BDoc, components: Component[]): Key[] {
  const keys = generateKeys(
    components.map(c => ({ value: doc, parts: c.parts, pos: 0, done: false }))
  );
  let best = keys[0] as Key[];
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as Key[];
    if (compareKeys(key, best, components) < 0) best = key;
  }
  return best;
}

interface Cursor {
  value: Key | undefined;
  parts: string[];
  pos: number;
  /** The value is the key itself: an inner array kept whole, or a missing field. */
  done: boolean;
}

/**
 * Every key tuple the document generates (`BtreeKeyGenerator`): each path is followed through
 * documents (a numeric component indexes an array) until it ends or meets an array, whose
 * elements then fan out. Two paths fanning out over different arrays are parallel arrays.
 */
function generateKeys(cursors: Cursor[]): Key[][] {
  let array: BValue[] | undefined;
  const fanning = new Set<number>();
  for (let i = 0; i < cursors.length; i++) {
    const cursor = advance(cursors[i] as Cursor);
    cursors[i] = cursor;
    if (cursor.done || !Array.isArray(cursor.value)) continue;
    if (array && array !== cursor.value) {
      throw badValue('cannot sort with keys that are parallel arrays');
    }
    array = cursor.value;
    fanning.add(i);
  }
  const fixed = cursors.map(c => (c.value === undefined ? null : c.value));
  if (!array) return [fixed];
  if (array.length === 0) return [fixed.map((v, i) => (fanning.has(i) ? EMPTY_ARRAY : v))];
  const keys: Key[][] = [];
  for (const element of array) {
    const next = cursors.map((cursor, i): Cursor => {
      if (!fanning.has(i)) return { ...cursor, done: true };
      // At the leaf an element is the key, inner arrays included; mid-path an inner array has
      // no fields, so the key is null.
      if (cursor.pos === cursor.parts.length) return { ...cursor, value: element, done: true };
      if (Array.isArray(element)) return { ...cursor, value: undefined, done: true };
      return { ...cursor, value: element };
    });
    keys.push(...generateKeys(next));
  }
  return keys;
}

/** Follows a path through documents and indexed array elements, stopping at an array. */
function advance(cursor: Cursor): Cursor {
  if (cursor.done) return cursor;
  let { value, pos } = cursor;
  const { parts } = cursor;
  while (pos < parts.length) {
    const part = parts[pos] as string;
    if (value instanceof Map) {
      value = value.get(part);
    } else if (Array.isArray(value)) {
      if (!isArrayIndex(part)) break;
      value = value[Number(part)];
    } else {
      value = undefined;
    }
    pos++;
  }
  return { value, parts, pos, done: false };
}
