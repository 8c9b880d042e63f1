/**
 * Single-value tests of the find filter language (mongod's `matchesSingleElement`): each takes one
 * value a path yielded (or `MISSING`) and knows nothing of paths or arrays around it.
 */
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey
} from 'bson';

import {
  BSON_TYPE_NUMBERS,
  type BValue,
  canonicalType,
  compareValues,
  currentCollation,
  equalityKey,
  isNumber,
  toNumber,
  typeAlias
} from '../../bson/values.js';
import { type Found, MISSING } from './path.js';

/** Where a positional match is recorded (mongod's `MatchDetails` elemMatchKey). */
export interface Rec {
  index: number | undefined;
}

export type ValuePredicate = (value: Found, rec: Rec | null) => boolean;

export type CompareOp = '$eq' | '$lt' | '$lte' | '$gt' | '$gte';

/** mongod's canonical type, where a missing field and `undefined` share bracket 0 below null. */
function bracket(value: Found): number {
  return value === MISSING || value === undefined ? 0 : canonicalType(value);
}

/** `$eq`, `$lt`, `$lte`, `$gt`, `$gte` with type bracketing (`ComparisonMatchExpressionBase`). */
export function comparison(op: CompareOp, rhs: BValue): ValuePredicate {
  const rhsBracket = bracket(rhs);
  const inclusive = op === '$eq' || op === '$lte' || op === '$gte';
  const rhsNaN = isNumber(rhs) && Number.isNaN(toNumber(rhs));
  const isMinKey = rhs instanceof MinKey;
  const isMaxKey = rhs instanceof MaxKey;
  return value => {
    const valueBracket = bracket(value);
    if (valueBracket !== rhsBracket) {
      // null matches missing and undefined wherever equality is included.
      if (valueBracket + rhsBracket === 5) return inclusive;
      if (isMaxKey) return op === '$lt' || op === '$lte';
      if (isMinKey) return op === '$gt' || op === '$gte';
      return false;
    }
    const v = value as BValue;
    if (rhsBracket === 10) {
      const valueNaN = Number.isNaN(toNumber(v));
      // NaN equals NaN but is neither above nor below any number.
      if (rhsNaN || valueNaN) return rhsNaN && valueNaN && inclusive;
    }
    const c = compareValues(v, rhs);
    switch (op) {
      case '$eq':
        return c === 0;
      case '$lt':
        return c < 0;
      case '$lte':
        return c <= 0;
      case '$gt':
        return c > 0;
      default:
        return c >= 0;
    }
  };
}

/** A regex test on strings and symbols; a stored regex matches only an identical regex. */
export function regexTest(re: RegExp, pattern: string, options: string): ValuePredicate {
  return value => {
    if (typeof value === 'string') return re.test(value);
    if (value instanceof BSONSymbol) return re.test(value.valueOf());
    if (value instanceof BSONRegExp) return value.pattern === pattern && value.options === options;
    return false;
  };
}

/**
 * `$in`: equality with any listed value (null also matches missing) or any listed regex. Values
 * are hashed under the collation in effect; the set is rebuilt if a run uses another one.
 */
export function inList(equalities: BValue[], regexes: ValuePredicate[]): ValuePredicate {
  let hashedFor = currentCollation();
  let keys = new Set(equalities.map(equalityKey));
  const hasNull = equalities.some(v => v === null);
  return (value, rec) => {
    if (value === MISSING || value === undefined) {
      if (hasNull) return true;
    } else {
      if (currentCollation() !== hashedFor) {
        hashedFor = currentCollation();
        keys = new Set(equalities.map(equalityKey));
      }
      if (keys.has(equalityKey(value))) return true;
    }
    for (const regex of regexes) if (regex(value, rec)) return true;
    return false;
  };
}

/** `$exists: true` as a single-value test: anything but a missing field. */
export const exists: ValuePredicate = value => value !== MISSING;

/** `$type` with a set of BSON type numbers, `number` covering all four numeric types. */
export function typeIn(types: Set<number>, allNumbers: boolean): ValuePredicate {
  return value => {
    if (value === MISSING) return false;
    if (allNumbers && isNumber(value)) return true;
    return types.has(BSON_TYPE_NUMBERS[typeAlias(value)] ?? 0);
  };
}

/** `$size`: only an array, of exactly `size` elements. */
export function sizeIs(size: number): ValuePredicate {
  return value => Array.isArray(value) && value.length === size;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** An integral number as a 64-bit integer, or undefined when it is not one. */
export function asInt64(value: Found, truncate: boolean): bigint | undefined {
  if (value instanceof Int32) return BigInt(value.value);
  if (value instanceof Long) return value.toBigInt();
  if (value instanceof Double || value instanceof Decimal128) {
    let n: number | bigint;
    if (value instanceof Double) {
      n = value.value;
    } else {
      const text = value.toString();
      n = /^-?\d+$/.test(text) ? BigInt(text) : Number(text);
    }
    if (typeof n === 'number') {
      if (!Number.isFinite(n)) return undefined;
      if (truncate) n = Math.trunc(n);
      if (!Number.isInteger(n)) return undefined;
      n = BigInt(n);
    }
    return n >= INT64_MIN && n <= INT64_MAX ? n : undefined;
  }
  return undefined;
}

/** `$mod`: the dividend, truncated to an integer, leaves `remainder` (C++ `%` sign rules). */
export function modIs(divisor: bigint, remainder: bigint): ValuePredicate {
  return value => {
    if (!isNumber(value)) return false;
    const dividend = asInt64(value, true);
    if (dividend === undefined) return false;
    // BigInt `%` truncates toward zero like C++, and cannot overflow on INT64_MIN % -1.
    return dividend % divisor === remainder;
  };
}

export type BitsOp = '$bitsAllSet' | '$bitsAnySet' | '$bitsAllClear' | '$bitsAnyClear';

/** The `$bits…` operators over a list of bit positions (`BitTestMatchExpression`). */
export function bitTest(op: BitsOp, positions: number[]): ValuePredicate {
  const wantSet = op === '$bitsAllSet' || op === '$bitsAnySet';
  const all = op === '$bitsAllSet' || op === '$bitsAllClear';
  const check = (isSet: (position: number) => boolean): boolean => {
    for (const position of positions) {
      const hit = isSet(position) === wantSet;
      if (all && !hit) return false;
      if (!all && hit) return true;
    }
    return all;
  };
  return value => {
    if (value instanceof Binary) {
      const bytes = value.buffer.subarray(0, value.position);
      return check(p => {
        const byte = bytes[p >> 3];
        return byte !== undefined && (byte & (1 << (p & 7))) !== 0;
      });
    }
    if (!isNumber(value)) return false;
    const n = asInt64(value, false);
    if (n === undefined) return false;
    // Positions past bit 63 read the sign extension.
    return check(p => (p >= 64 ? n < 0n : ((n >> BigInt(p)) & 1n) === 1n));
  };
}
