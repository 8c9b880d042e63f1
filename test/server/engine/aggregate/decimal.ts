/**
 * Exact Decimal128 arithmetic on (coefficient, exponent) pairs, rounded half-even to 34 digits as
 * IEEE 754-2008 decimal128 does. The bson package only parses and prints Decimal128, and doing the
 * math in JS doubles would change results mongod computes exactly.
 */
import { Decimal128 } from 'bson';

import { notImplemented } from '../server-error.js';

/** A finite decimal `(-1)^neg * coef * 10^exp`, or a special (NaN, ±Infinity) as a JS number. */
export type Dec = { neg: boolean; coef: bigint; exp: number } | number;

const MAX_DIGITS = 34;
const TEN = 10n;

export function decFromDecimal128(value: Decimal128): Dec {
  const text = value.toString();
  if (text === 'NaN' || text === '-NaN') return NaN;
  if (text === 'Infinity') return Infinity;
  if (text === '-Infinity') return -Infinity;
  const m = /^(-)?(\d+)(?:\.(\d+))?(?:E([+-]?\d+))?$/i.exec(text);
  if (!m) throw new TypeError(`unparseable Decimal128 ${text}`);
  const frac = m[3] ?? '';
  return { neg: m[1] === '-', coef: BigInt(m[2]! + frac), exp: Number(m[4] ?? 0) - frac.length };
}

export function decToDecimal128(value: Dec): Decimal128 {
  if (typeof value === 'number') {
    return Decimal128.fromString(
      Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity'
    );
  }
  const r = round34(value, false);
  if (r.exp > 6111 || r.exp < -6176) throw notImplemented('Decimal128 exponent overflow/underflow');
  return Decimal128.fromString(`${r.neg ? '-' : ''}${r.coef}E${r.exp}`);
}

export function decFromBigInt(value: bigint): Dec {
  return { neg: value < 0n, coef: value < 0n ? -value : value, exp: 0 };
}

/** The exact binary value of a double, rounded to `digits` significant digits. */
export function decFromDoubleExact(value: number, digits = MAX_DIGITS): Dec {
  if (!Number.isFinite(value)) return value;
  if (value === 0) return { neg: Object.is(value, -0), coef: 0n, exp: 0 };
  const neg = value < 0;
  let x = Math.abs(value);
  let e2 = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    e2--;
  }
  let coef = BigInt(x);
  let exp = 0;
  if (e2 < 0) {
    coef *= 5n ** BigInt(-e2);
    exp = e2;
  }
  return roundDigits({ neg, coef, exp }, digits, false);
}

/**
 * mongod's `Decimal128(double)`: the double rounded to 15 significant digits, trailing zeros
 * kept (2.5 becomes 2.50000000000000).
 */
export function decFromDouble15(value: number): Dec {
  if (!Number.isFinite(value)) return value;
  if (value === 0) return { neg: Object.is(value, -0), coef: 0n, exp: 0 };
  const [mantissa, e] = value.toExponential(14).split('e') as [string, string];
  const neg = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  return { neg, coef: BigInt(digits), exp: Number(e) - 14 };
}

export function decToNumber(value: Dec): number {
  if (typeof value === 'number') return value;
  return Number(`${value.neg ? '-' : ''}${value.coef}e${value.exp}`);
}

function digitCount(n: bigint): number {
  return n === 0n ? 1 : n.toString().length;
}

/** Rounds half-even to at most `digits` digits; `sticky` says non-zero digits were already lost. */
function roundDigits(
  v: { neg: boolean; coef: bigint; exp: number },
  digits: number,
  sticky: boolean
): { neg: boolean; coef: bigint; exp: number } {
  let { coef, exp } = v;
  const excess = digitCount(coef) - digits;
  if (excess <= 0 && !sticky) return v;
  if (excess > 0) {
    const div = TEN ** BigInt(excess);
    const q = coef / div;
    const r = coef % div;
    const half = div / 2n;
    let up = r > half || (r === half && (sticky || q % 2n === 1n));
    if (r === half && sticky) up = true;
    coef = up ? q + 1n : q;
    exp += excess;
    if (digitCount(coef) > digits) {
      coef /= TEN;
      exp += 1;
    }
  }
  return { neg: v.neg, coef, exp };
}

function round34(v: { neg: boolean; coef: bigint; exp: number }, sticky: boolean) {
  return roundDigits(v, MAX_DIGITS, sticky);
}

function signed(v: { neg: boolean; coef: bigint }): bigint {
  return v.neg ? -v.coef : v.coef;
}

function fromSigned(n: bigint, exp: number): { neg: boolean; coef: bigint; exp: number } {
  return { neg: n < 0n, coef: n < 0n ? -n : n, exp };
}

export function decAdd(a: Dec, b: Dec): Dec {
  if (typeof a === 'number' || typeof b === 'number') return decToNumber(a) + decToNumber(b);
  const exp = Math.min(a.exp, b.exp);
  const sum = signed(a) * TEN ** BigInt(a.exp - exp) + signed(b) * TEN ** BigInt(b.exp - exp);
  const out = fromSigned(sum, exp);
  if (sum === 0n) out.neg = a.neg && b.neg;
  return round34(out, false);
}

export function decNeg(a: Dec): Dec {
  return typeof a === 'number' ? -a : { ...a, neg: !a.neg };
}

export function decSub(a: Dec, b: Dec): Dec {
  return decAdd(a, decNeg(b));
}

export function decMul(a: Dec, b: Dec): Dec {
  if (typeof a === 'number' || typeof b === 'number') return decToNumber(a) * decToNumber(b);
  return round34({ neg: a.neg !== b.neg, coef: a.coef * b.coef, exp: a.exp + b.exp }, false);
}

export function decIsZero(a: Dec): boolean {
  return typeof a !== 'number' && a.coef === 0n;
}

/** IEEE division: the exact quotient at the exponent closest to exp(a) - exp(b), else 34 digits. */
export function decDiv(a: Dec, b: Dec): Dec {
  if (typeof a === 'number' || typeof b === 'number') return decToNumber(a) / decToNumber(b);
  const neg = a.neg !== b.neg;
  if (a.coef === 0n) return { neg, coef: 0n, exp: a.exp - b.exp };
  for (let k = 0; ; k++) {
    const num = a.coef * TEN ** BigInt(k);
    const q = num / b.coef;
    if (digitCount(q) > MAX_DIGITS) {
      // Inexact (or too long): 35+ digits plus a sticky bit, then round.
      return round34({ neg, coef: q, exp: a.exp - b.exp - k }, num % b.coef !== 0n);
    }
    if (num % b.coef === 0n) return { neg, coef: q, exp: a.exp - b.exp - k };
  }
}

/** Remainder with the sign of the dividend (truncated division), as `$mod` computes it. */
export function decMod(a: Dec, b: Dec): Dec {
  if (typeof a === 'number' || typeof b === 'number') return decToNumber(a) % decToNumber(b);
  const exp = Math.min(a.exp, b.exp);
  const x = signed(a) * TEN ** BigInt(a.exp - exp);
  const y = signed(b) * TEN ** BigInt(b.exp - exp);
  const out = fromSigned(x % y, exp);
  if (out.coef === 0n) out.neg = a.neg;
  return round34(out, false);
}

/** Rounds to `place` decimal places: mode 'even' (half-even), 'trunc', 'ceil' or 'floor'. */
export function decQuantize(a: Dec, place: number, mode: 'even' | 'trunc' | 'ceil' | 'floor'): Dec {
  if (typeof a === 'number') return a;
  const target = -place;
  if (a.exp >= target) return a;
  const div = TEN ** BigInt(target - a.exp);
  let q = a.coef / div;
  const r = a.coef % div;
  if (r !== 0n) {
    const half = div / 2n;
    const awayFromZero =
      mode === 'even'
        ? r > half || (r === half && q % 2n === 1n)
        : mode === 'ceil'
          ? !a.neg
          : mode === 'floor'
            ? a.neg
            : false;
    if (awayFromZero) q += 1n;
  }
  return { neg: a.neg && q !== 0n ? true : a.neg, coef: q, exp: target };
}

/** Integral value truncated toward zero, or undefined for NaN/Infinity. */
export function decTruncToBigInt(a: Dec): bigint | undefined {
  if (typeof a === 'number') return undefined;
  const q = a.exp >= 0 ? a.coef * TEN ** BigInt(a.exp) : a.coef / TEN ** BigInt(-a.exp);
  return a.neg ? -q : q;
}

export function decCompare(a: Dec, b: Dec): number {
  if (typeof a === 'number' || typeof b === 'number') {
    const x = decToNumber(a);
    const y = decToNumber(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const exp = Math.min(a.exp, b.exp);
  const x = signed(a) * TEN ** BigInt(a.exp - exp);
  const y = signed(b) * TEN ** BigInt(b.exp - exp);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function notImplementedDecimal(op: string): never {
  throw notImplemented(`${op} on Decimal128 values`);
}
