/**
 * mongod's numeric type promotion for expressions and accumulators: int → long → double → decimal,
 * with int/long results widening on overflow instead of wrapping.
 */
import { Decimal128, Double, Int32, Long } from 'bson';

import { type BValue, isNumber } from '../../bson/values.js';
import {
  type Dec,
  decFromBigInt,
  decFromDecimal128,
  decFromDouble15,
  decToNumber
} from './decimal.js';

export type Num = Int32 | Double | Long | Decimal128;
/** Widening order of the numeric kinds. */
export type Kind = 0 | 1 | 2 | 3;
export const INT: Kind = 0;
export const LONG: Kind = 1;
export const DOUBLE: Kind = 2;
export const DECIMAL: Kind = 3;

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export function kindOf(v: Num): Kind {
  if (v instanceof Int32) return INT;
  if (v instanceof Long) return LONG;
  if (v instanceof Double) return DOUBLE;
  return DECIMAL;
}

export function isNum(v: unknown): v is Num {
  return isNumber(v);
}

export function asBigInt(v: Int32 | Long): bigint {
  return v instanceof Int32 ? BigInt(v.value) : v.toBigInt();
}

export function asDouble(v: Num): number {
  if (v instanceof Int32 || v instanceof Double) return v.value;
  if (v instanceof Long) return Number(v.toBigInt());
  return decToNumber(decFromDecimal128(v));
}

/** Converts to an exact decimal the way mongod widens to Decimal128 (doubles keep 15 digits). */
export function asDec(v: Num): Dec {
  if (v instanceof Decimal128) return decFromDecimal128(v);
  if (v instanceof Double) return decFromDouble15(v.value);
  return decFromBigInt(asBigInt(v));
}

export function fitsInt32(n: bigint): boolean {
  return n >= INT32_MIN && n <= INT32_MAX;
}

export function fitsInt64(n: bigint): boolean {
  return n >= INT64_MIN && n <= INT64_MAX;
}

/** An integral result of kind int/long: int when it fits and the kind allows, else long. */
export function integral(n: bigint, kind: Kind): Int32 | Long {
  if (kind === INT && fitsInt32(n)) return new Int32(Number(n));
  return Long.fromBigInt(n);
}

export function dbl(n: number): Double {
  return new Double(n);
}

export function isNullish(v: BValue | symbol): boolean {
  return v === null || v === undefined || typeof v === 'symbol';
}
