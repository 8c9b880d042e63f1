/** Arithmetic operators with mongod's result types (int → long on overflow, double, decimal). */
import { Decimal128, Double, Int32, Long } from 'bson';

import { notImplemented, ServerError } from '../server-error.js';
import {
  type Dec,
  decAdd,
  decDiv,
  decFromDoubleExact,
  decIsZero,
  decMod,
  decMul,
  decQuantize,
  decToDecimal128,
  decToNumber,
  decTruncToBigInt
} from './decimal.js';
import {
  argList,
  type Compiled,
  exactArgs,
  isNullish,
  type OperatorParser,
  rangeArgs,
  type Value
} from './expr-core.js';
import { typeName } from './format.js';
import {
  asBigInt,
  asDec,
  asDouble,
  DECIMAL,
  DOUBLE,
  fitsInt64,
  INT,
  integral,
  isNum,
  type Kind,
  kindOf,
  LONG,
  type Num
} from './numeric.js';

/** Running `$add`/`$multiply` state: exact integers until overflow, then double or decimal. */
class Accumulation {
  kind: Kind = INT;
  int: bigint;
  double = 0;
  dec: Dec = 0;

  constructor(
    private readonly op: 'add' | 'mul',
    seed: bigint
  ) {
    this.int = seed;
    this.double = Number(seed);
  }

  push(v: Num | bigint): void {
    const k: Kind = typeof v === 'bigint' ? LONG : kindOf(v);
    const next = Math.max(this.kind, k) as Kind;
    if (next === DECIMAL) {
      if (this.kind !== DECIMAL) {
        this.dec =
          this.kind === DOUBLE ? asDec(new Double(this.double)) : asDec(Long.fromBigInt(this.int));
      }
      const d = typeof v === 'bigint' ? asDec(Long.fromBigInt(v)) : asDec(v);
      this.dec = this.op === 'add' ? decAdd(this.dec, d) : decMul(this.dec, d);
    } else if (next === DOUBLE) {
      if (this.kind !== DOUBLE) this.double = Number(this.int);
      const x = typeof v === 'bigint' ? Number(v) : asDouble(v);
      this.double = this.op === 'add' ? this.double + x : this.double * x;
    } else {
      const x = typeof v === 'bigint' ? v : asBigInt(v as Int32 | Long);
      const r = this.op === 'add' ? this.int + x : this.int * x;
      if (!fitsInt64(r)) {
        // long overflow: mongod continues in double.
        this.double =
          this.op === 'add' ? Number(this.int) + Number(x) : Number(this.int) * Number(x);
        this.kind = DOUBLE;
        return;
      }
      this.int = r;
    }
    this.kind = next;
  }

  result(): Num {
    if (this.kind === DECIMAL) return decToDecimal128(this.dec);
    if (this.kind === DOUBLE) return new Double(this.double);
    return integral(this.int, this.kind);
  }
}

const add: OperatorParser = (arg, p) => {
  const args = argList(arg).map(a => p.compile(a));
  return s => {
    const acc = new Accumulation('add', 0n);
    let date = false;
    for (const c of args) {
      const v = c(s);
      if (isNullish(v)) return null;
      if (v instanceof Date) {
        if (date) throw new ServerError(16612, 'only one date allowed in an $add expression');
        date = true;
        acc.push(BigInt(v.getTime()));
      } else if (isNum(v)) acc.push(v);
      else
        throw new ServerError(
          16554,
          `$add only supports numeric or date types, not ${typeName(v)}`
        );
    }
    const total = acc.result();
    if (!date) return total;
    return new Date(roundToMillis(total));
  };
};

function roundToMillis(v: Num): number {
  if (v instanceof Double) {
    if (!Number.isFinite(v.value)) throw new ServerError(2, 'date overflow in $add');
    return Math.round(v.value);
  }
  if (v instanceof Decimal128) return Math.round(decToNumber(asDec(v)));
  return Number(asBigInt(v));
}

const multiply: OperatorParser = (arg, p) => {
  const args = argList(arg).map(a => p.compile(a));
  return s => {
    const acc = new Accumulation('mul', 1n);
    for (const c of args) {
      const v = c(s);
      if (isNullish(v)) return null;
      if (!isNum(v))
        throw new ServerError(16555, `$multiply only supports numeric types, not ${typeName(v)}`);
      acc.push(v);
    }
    return acc.result();
  };
};

const subtract: OperatorParser = (arg, p, name) => {
  const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
  return s => {
    const x = a(s);
    const y = b(s);
    if (isNullish(x) || isNullish(y)) return null;
    if (x instanceof Date) {
      if (y instanceof Date) return Long.fromNumber(x.getTime() - y.getTime());
      if (isNum(y)) return new Date(x.getTime() - roundToMillis(y));
    } else if (isNum(x) && isNum(y)) {
      const kind = Math.max(kindOf(x), kindOf(y)) as Kind;
      if (kind === DECIMAL) return decToDecimal128(decAdd(asDec(x), negate(asDec(y))));
      if (kind === DOUBLE) return new Double(asDouble(x) - asDouble(y));
      const r = asBigInt(x as Int32 | Long) - asBigInt(y as Int32 | Long);
      return fitsInt64(r) ? integral(r, kind) : new Double(asDouble(x) - asDouble(y));
    }
    throw new ServerError(16556, `can't $subtract ${typeName(y)} from ${typeName(x)}`);
  };
};

function negate(d: Dec): Dec {
  return typeof d === 'number' ? -d : { ...d, neg: !d.neg };
}

/**
 * Operators of two numeric arguments: null in, null out; non-numbers rejected with `code`
 * (`$divide` 16609, `$mod` 16611).
 */
function binary(code: number, fn: (x: Num, y: Num) => Value): OperatorParser {
  return (arg, p, name) => {
    const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
    return s => {
      const x = a(s);
      const y = b(s);
      if (isNullish(x) || isNullish(y)) return null;
      if (!isNum(x) || !isNum(y)) {
        throw new ServerError(
          code,
          `${name} only supports numeric types, not ${typeName(x)} and ${typeName(y)}`
        );
      }
      return fn(x, y);
    };
  };
}

const divide = binary(16609, (x, y) => {
  if (kindOf(x) === DECIMAL || kindOf(y) === DECIMAL) {
    const dy = asDec(y);
    if (decIsZero(dy)) throw new ServerError(2, "can't $divide by zero");
    return decToDecimal128(decDiv(asDec(x), dy));
  }
  const dy = asDouble(y);
  if (dy === 0) throw new ServerError(2, "can't $divide by zero");
  return new Double(asDouble(x) / dy);
});

const mod = binary(16611, (x, y) => {
  const kind = Math.max(kindOf(x), kindOf(y)) as Kind;
  if (kind === DECIMAL) {
    const dy = asDec(y);
    if (decIsZero(dy)) throw new ServerError(16610, "can't $mod by zero");
    return decToDecimal128(decMod(asDec(x), dy));
  }
  if (kind === DOUBLE) {
    const dy = asDouble(y);
    if (dy === 0) throw new ServerError(16610, "can't $mod by zero");
    return new Double(asDouble(x) % dy);
  }
  const by = asBigInt(y as Int32 | Long);
  if (by === 0n) throw new ServerError(16610, "can't $mod by zero");
  return integral(asBigInt(x as Int32 | Long) % by, kind);
});

/** Operators of one numeric argument: null in, null out; non-numbers rejected with 28765. */
function unary(fn: (v: Num, name: string) => Value): OperatorParser {
  return (arg, p, name) => {
    const [a] = exactArgs(name, arg, 1, p) as [Compiled];
    return s => {
      const v = a(s);
      if (isNullish(v)) return null;
      if (!isNum(v))
        throw new ServerError(28765, `${name} only supports numeric types, not ${typeName(v)}`);
      return fn(v, name);
    };
  };
}

const abs = unary(v => {
  if (v instanceof Int32) return integral(BigInt(Math.abs(v.value)), INT);
  if (v instanceof Long) {
    const n = v.toBigInt();
    if (n === -(2n ** 63n)) throw new ServerError(28680, "can't take $abs of long long min");
    return Long.fromBigInt(n < 0n ? -n : n);
  }
  if (v instanceof Double) return new Double(Math.abs(v.value));
  const d = asDec(v);
  return decToDecimal128(typeof d === 'number' ? Math.abs(d) : { ...d, neg: false });
});

function rounding(mode: 'ceil' | 'floor'): OperatorParser {
  return unary(v => {
    if (v instanceof Int32 || v instanceof Long) return v;
    if (v instanceof Double) return new Double(Math[mode](v.value));
    return decToDecimal128(decQuantize(asDec(v), 0, mode));
  });
}

const sqrt = unary(v => {
  if (v instanceof Decimal128) throw notImplemented('$sqrt of a Decimal128');
  const x = asDouble(v);
  if (x < 0) throw new ServerError(28714, "$sqrt's argument must be greater than or equal to 0");
  return new Double(Math.sqrt(x));
});

/** `$round` / `$trunc`: half-even or toward zero at a decimal place in [-20, 100]. */
function placeRounding(mode: 'even' | 'trunc'): OperatorParser {
  return (arg, p, name) => {
    const [a, b] = rangeArgs(name, arg, 1, 2, p) as [Compiled, Compiled | undefined];
    return s => {
      const v = a(s);
      let place = 0;
      if (b) {
        const pv = b(s);
        if (isNullish(pv)) return null;
        if (!isNum(pv))
          throw new ServerError(51082, `precision argument to  ${name} must be a integral value`);
        const n = asDouble(pv);
        if (!Number.isInteger(n))
          throw new ServerError(51082, `precision argument to  ${name} must be a integral value`);
        if (n < -20 || n > 100) {
          throw new ServerError(
            51083,
            `cannot apply ${name} with precision value ${n} value must be in [-20, 100]`
          );
        }
        place = n;
      }
      if (isNullish(v)) return null;
      if (!isNum(v))
        throw new ServerError(51081, `${name} only supports numeric types, not ${typeName(v)}`);
      return roundAt(v, place, mode);
    };
  };
}

function roundAt(v: Num, place: number, mode: 'even' | 'trunc'): Num {
  if (v instanceof Int32 || v instanceof Long) {
    if (place >= 0) return v;
    const q = decQuantize(asDec(v), place, mode);
    const n = decTruncToBigInt(q)!;
    return integral(n, kindOf(v)) ?? v;
  }
  if (v instanceof Double) {
    if (!Number.isFinite(v.value)) return v;
    const q = decQuantize(decFromDoubleExact(v.value), place, mode);
    return new Double(decToNumber(q));
  }
  return decToDecimal128(decQuantize(asDec(v), place, mode));
}

const pow: OperatorParser = (arg, p, name) => {
  const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
  return s => {
    const base = a(s);
    const exp = b(s);
    if (isNullish(base) || isNullish(exp)) return null;
    if (!isNum(base))
      throw new ServerError(28762, `$pow's base must be numeric, not ${typeName(base)}`);
    if (!isNum(exp))
      throw new ServerError(28763, `$pow's exponent must be numeric, not ${typeName(exp)}`);
    const kind = Math.max(kindOf(base), kindOf(exp)) as Kind;
    if (kind === DECIMAL) throw notImplemented('$pow on Decimal128 values');
    if (kind === DOUBLE) return new Double(Math.pow(asDouble(base), asDouble(exp)));
    const x = asBigInt(base as Int32 | Long);
    const y = asBigInt(exp as Int32 | Long);
    if (x === 0n && y < 0n) {
      throw new ServerError(28764, '$pow cannot take a base of 0 and a negative exponent');
    }
    if (y < 0n) {
      if (x === 1n) return integral(1n, kind);
      if (x === -1n) return integral(y % 2n === 0n ? 1n : -1n, kind);
      return new Double(Math.pow(Number(x), Number(y)));
    }
    // Exact while it fits in a long; mongod falls back to double beyond that.
    const r = y > 64n && (x > 1n || x < -1n) ? null : x ** y;
    if (r === null || !fitsInt64(r)) return new Double(Math.pow(Number(x), Number(y)));
    return integral(r, kind);
  };
};

export const ARITHMETIC_OPERATORS: Record<string, OperatorParser> = {
  $add: add,
  $subtract: subtract,
  $multiply: multiply,
  $divide: divide,
  $mod: mod,
  $abs: abs,
  $ceil: rounding('ceil'),
  $floor: rounding('floor'),
  $round: placeRounding('even'),
  $trunc: placeRounding('trunc'),
  $pow: pow,
  $sqrt: sqrt
};
