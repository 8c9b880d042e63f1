/**
 * $push with its $each / $position / $sort / $slice clauses (push_node.cpp): the clauses are only
 * recognised when the argument is a document holding `$each`; otherwise the argument itself is
 * pushed.
 */
import { Decimal128, Double, Int32, Long } from 'bson';

import { getPath } from '../../bson/paths.js';
import { type BValue, cloneValue, compareValues, typeAlias } from '../../bson/values.js';
import { ServerError } from '../server-error.js';

export interface PushSpec {
  values: BValue[];
  /** Insert position; undefined appends. */
  position: bigint | undefined;
  /** Keep at most |slice| elements, from the front (>= 0) or the back (< 0). */
  slice: bigint | undefined;
  /** Element comparator for $sort. */
  sort: ((a: BValue, b: BValue) => number) | undefined;
}

const badValue = (message: string): ServerError => new ServerError(2, message);

/** MatchExpressionParser::parseIntegerElementToLong: integral numbers in int64 range only. */
function integerOf(value: BValue): bigint | undefined {
  if (value instanceof Int32) return BigInt(value.value);
  if (value instanceof Long) return value.toBigInt();
  if (value instanceof Double) {
    const n = value.value;
    return Number.isInteger(n) && Math.abs(n) <= 2 ** 63 ? BigInt(n) : undefined;
  }
  if (value instanceof Decimal128) {
    const text = value.toString();
    return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
  }
  return undefined;
}

function directionOf(value: BValue): number | undefined {
  if (value instanceof Int32 || value instanceof Double) return value.value;
  if (value instanceof Long) return Number(value.toBigInt());
  if (value instanceof Decimal128) return Number(value.toString());
  return undefined;
}

function parseSort(clause: BValue): (a: BValue, b: BValue) => number {
  const whole = directionOf(clause);
  if (whole !== undefined) {
    if (whole !== 1 && whole !== -1)
      throw badValue('The $sort element value must be either 1 or -1');
    return (a, b) => whole * compareValues(a, b);
  }
  if (!(clause instanceof Map)) {
    throw badValue(
      'The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields'
    );
  }
  if (clause.size === 0)
    throw badValue('The $sort pattern is empty when it should be a set of fields.');
  const keys: [string, number][] = [];
  for (const [field, dir] of clause) {
    const d = directionOf(dir) ?? 0;
    if (d !== 1 && d !== -1) throw badValue('The $sort element value must be either 1 or -1');
    if (field === '') throw badValue('The $sort field cannot be empty');
    if (field.split('.').some(p => p === '')) {
      throw badValue(`The $sort field is a dotted field but has an empty part: ${field}`);
    }
    keys.push([field, d]);
  }
  // Non-documents are wrapped as {"": value}, so every pattern field is missing: null.
  const keyOf = (v: BValue, path: string): BValue =>
    v instanceof Map ? (getPath(v, path) ?? null) : null;
  return (a, b) => {
    for (const [path, d] of keys) {
      const c = compareValues(keyOf(a, path), keyOf(b, path));
      if (c !== 0) return d * c;
    }
    return 0;
  };
}

export function parsePushSpec(value: BValue): PushSpec {
  if (!(value instanceof Map) || !value.has('$each')) {
    return { values: [value], position: undefined, slice: undefined, sort: undefined };
  }
  const valid = new Set(['$each', '$slice', '$sort', '$position']);
  for (const name of value.keys()) {
    if (!valid.has(name)) throw badValue(`Unrecognized clause in $push: ${name}`);
  }
  const each = value.get('$each');
  if (!Array.isArray(each)) {
    throw badValue(
      `The argument to $each in $push must be an array but it was of type: ${typeAlias(each)}`
    );
  }
  const spec: PushSpec = { values: each, position: undefined, slice: undefined, sort: undefined };
  if (value.has('$slice')) {
    const clause = value.get('$slice');
    spec.slice = integerOf(clause);
    if (spec.slice === undefined) {
      throw badValue(
        `The value for $slice must be an integer value but was given type: ${typeAlias(clause)}`
      );
    }
  }
  if (value.has('$sort')) spec.sort = parseSort(value.get('$sort'));
  if (value.has('$position')) {
    const clause = value.get('$position');
    spec.position = integerOf(clause);
    if (spec.position === undefined) {
      throw badValue(
        `The value for $position must be an integer value, not of type: ${typeAlias(clause)}`
      );
    }
  }
  return spec;
}

/** Applies the push to `array` in place; returns false when nothing changed. */
export function performPush(array: BValue[], spec: PushSpec): boolean {
  let changed = false;
  if (spec.values.length > 0) {
    const size = BigInt(array.length);
    const pos = spec.position;
    let at: number;
    if (pos === undefined || pos > size) at = array.length;
    else if (pos >= 0n) at = Number(pos);
    else if (-pos < size) at = Number(size + pos);
    else at = 0;
    array.splice(at, 0, ...spec.values.map(v => cloneValue(v)));
    changed = true;
  }
  if (spec.sort) {
    changed = true;
    const sorted = [...array].sort(spec.sort);
    array.splice(0, array.length, ...sorted);
  }
  if (spec.slice !== undefined) {
    const limit = spec.slice < 0n ? -spec.slice : spec.slice;
    if (BigInt(array.length) > limit) {
      changed = true;
      const keep = Number(limit);
      if (spec.slice >= 0n) array.splice(keep);
      else array.splice(0, array.length - keep);
    }
  }
  return changed;
}
