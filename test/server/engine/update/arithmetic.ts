/**
 * mongod's SafeNum arithmetic for $inc, $mul and $bit: int32 results widen to int64 on overflow,
 * int64 overflow is an error (SafeNum becomes invalid), any double makes a double and any
 * Decimal128 makes a Decimal128 (doubles converted with 15 significant digits).
 */
import { Decimal128, Double, Int32, Long } from 'bson';

import {
  type Dec,
  decAdd,
  decFromBigInt,
  decFromDecimal128,
  decFromDouble15,
  decMul,
  decToDecimal128
} from '../aggregate/decimal.js';

export type Num = Int32 | Long | Double | Decimal128;

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function toDec(value: Num): Dec {
  if (value instanceof Decimal128) return decFromDecimal128(value);
  if (value instanceof Double) return decFromDouble15(value.value);
  return decFromBigInt(BigInt(value instanceof Long ? value.toBigInt() : value.value));
}

function toDouble(value: Num): number {
  if (value instanceof Long) return Number(value.toBigInt());
  return (value as Int32 | Double).value;
}

function toBig(value: Int32 | Long): bigint {
  return value instanceof Long ? value.toBigInt() : BigInt(value.value);
}

/** The integer result typed as mongod's SafeNum types it, or null for int64 overflow. */
function integral(result: bigint, bothInt32: boolean): Int32 | Long | null {
  if (bothInt32 && result >= INT32_MIN && result <= INT32_MAX) return new Int32(Number(result));
  if (result < INT64_MIN || result > INT64_MAX) return null;
  return Long.fromBigInt(result);
}

function combine(
  a: Num,
  b: Num,
  dec: (x: Dec, y: Dec) => Dec,
  dbl: (x: number, y: number) => number,
  int: (x: bigint, y: bigint) => bigint
): Num | null {
  if (a instanceof Decimal128 || b instanceof Decimal128)
    return decToDecimal128(dec(toDec(a), toDec(b)));
  if (a instanceof Double || b instanceof Double) return new Double(dbl(toDouble(a), toDouble(b)));
  const bothInt32 = a instanceof Int32 && b instanceof Int32;
  return integral(int(toBig(a as Int32 | Long), toBig(b as Int32 | Long)), bothInt32);
}

/** SafeNum `+`; null when the int64 sum overflows (mongod reports an error). */
export function safeAdd(a: Num, b: Num): Num | null {
  return combine(
    a,
    b,
    decAdd,
    (x, y) => x + y,
    (x, y) => x + y
  );
}

/** SafeNum `*`; null when the int64 product overflows. */
export function safeMul(a: Num, b: Num): Num | null {
  return combine(
    a,
    b,
    decMul,
    (x, y) => x * y,
    (x, y) => x * y
  );
}

/** SafeNum bitwise and/or/xor of two integral values: int32 unless either side is int64. */
export function safeBit(op: 'and' | 'or' | 'xor', a: Int32 | Long, b: Int32 | Long): Int32 | Long {
  const x = toBig(a);
  const y = toBig(b);
  const r = op === 'and' ? x & y : op === 'or' ? x | y : x ^ y;
  if (a instanceof Int32 && b instanceof Int32) return new Int32(Number(BigInt.asIntN(32, r)));
  return Long.fromBigInt(BigInt.asIntN(64, r));
}

/** SafeNum::isIdentical: same numeric type and same value (the no-op test of $inc/$mul/$bit). */
export function numIdentical(a: Num, b: Num): boolean {
  if (a.constructor !== b.constructor) return false;
  if (a instanceof Decimal128) return Buffer.compare(a.bytes, (b as Decimal128).bytes) === 0;
  if (a instanceof Long) return a.equals(b as Long);
  return Object.is((a as Int32 | Double).value, (b as Int32 | Double).value);
}

/** SafeNum::debugString: `(NumberLong)9223372036854775807`. */
export function numDebugString(value: Num): string {
  if (value instanceof Int32) return `(NumberInt)${value.value}`;
  if (value instanceof Long) return `(NumberLong)${value.toString()}`;
  if (value instanceof Double) return `(NumberDouble)${value.value}`;
  return `(NumberDecimal)${value.toString()}`;
}
