/**
 * `$group` / `$bucket` / `$bucketAuto` accumulators. Each spec compiles to a factory of fresh
 * per-group states; `add` takes the evaluated argument (MISSING included), `result` the output.
 */
import { Decimal128, Double, Int32, Long } from 'bson';

import { type BDoc, type BValue, compareValues, equalityKey, isDoc } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import { type Dec, decAdd, decDiv, decFromBigInt, decToDecimal128 } from './decimal.js';
import { type Compiled, isNullish, MISSING, type Parser, type Value } from './expr-core.js';
import { mergeInto } from './expr-object.js';
import {
  asBigInt,
  asDec,
  asDouble,
  fitsInt64,
  INT,
  integral,
  isNum,
  type Kind,
  LONG
} from './numeric.js';

export interface AccumulatorState {
  add(v: Value): void;
  result(): Value;
}

export interface CompiledAccumulator {
  arg: Compiled;
  create(): AccumulatorState;
}

/**
 * mongod's `$sum` state: exact integers while they fit a long, double-double summation for
 * doubles (DoubleDoubleSummation), and an exact decimal total once any Decimal128 appears.
 */
export class Summation {
  private kind: Kind = INT;
  private long = 0n;
  private sum = 0;
  private err = 0;
  private special = 0;
  private dec: Dec | undefined;
  count = 0;

  add(v: Int32 | Long | Double | Decimal128): void {
    this.count++;
    if (v instanceof Decimal128) {
      this.dec = this.dec === undefined ? asDec(v) : decAdd(this.dec, asDec(v));
      return;
    }
    if (v instanceof Double) {
      this.kind = 2 as Kind;
      this.addDouble(v.value);
      return;
    }
    const n = asBigInt(v);
    if (this.kind === 2 || !fitsInt64(this.long + n)) {
      // Integer overflow continues in double, as mongod's $sum does.
      if (this.kind !== 2) {
        this.kind = 2 as Kind;
        this.addDouble(Number(this.long));
        this.long = 0n;
      }
      this.addDouble(Number(n));
      return;
    }
    this.long += n;
    if (v instanceof Long) this.kind = Math.max(this.kind, LONG) as Kind;
  }

  private addDouble(x: number): void {
    if (!Number.isFinite(x)) {
      this.special += x;
      return;
    }
    const s = this.sum + x;
    const bp = s - this.sum;
    this.err += this.sum - (s - bp) + (x - bp);
    this.sum = s;
  }

  private doubleTotal(): number {
    if (this.special !== 0 || Number.isNaN(this.special)) return this.special;
    return this.sum + this.err + Number(this.long);
  }

  /** The total with mongod's result type: int if it fits and only ints were seen, etc. */
  total(): Int32 | Long | Double | Decimal128 {
    if (this.dec !== undefined) {
      const rest =
        this.kind === 2 ? asDec(new Double(this.doubleTotal())) : decFromBigInt(this.long);
      return decToDecimal128(decAdd(this.dec, rest));
    }
    if (this.kind === 2) return new Double(this.doubleTotal());
    return integral(this.long, this.kind);
  }

  /** The total as a decimal or double, for `$avg`. */
  average(): Double | Decimal128 {
    if (this.dec !== undefined) {
      return decToDecimal128(decDiv(asDec(this.total()), decFromBigInt(BigInt(this.count))));
    }
    return new Double(asDouble(this.total()) / this.count);
  }
}

type Factory = () => AccumulatorState;

const FACTORIES: Record<string, Factory> = {
  $sum: () => {
    const s = new Summation();
    return { add: v => (isNum(v) ? s.add(v) : undefined), result: () => s.total() };
  },
  $avg: () => {
    const s = new Summation();
    return {
      add: v => (isNum(v) ? s.add(v) : undefined),
      result: () => (s.count === 0 ? null : s.average())
    };
  },
  $min: () => extreme(-1),
  $max: () => extreme(1),
  $first: () => {
    let seen = false;
    let value: Value = null;
    return {
      add: v => {
        if (!seen) {
          seen = true;
          value = v;
        }
      },
      result: () => (value === MISSING ? null : value)
    };
  },
  $last: () => {
    let value: Value = null;
    return { add: v => (value = v), result: () => (value === MISSING ? null : value) };
  },
  $push: () => {
    const out: BValue[] = [];
    return { add: v => (v === MISSING ? undefined : void out.push(v)), result: () => out };
  },
  $addToSet: () => {
    const seen = new Map<string, BValue>();
    return {
      add: v => {
        if (v === MISSING) return;
        const k = equalityKey(v);
        if (!seen.has(k)) seen.set(k, v);
      },
      result: () => [...seen.values()]
    };
  },
  $mergeObjects: () => {
    const out: BDoc = new Map();
    let i = 0;
    return { add: v => mergeInto(out, v, i++), result: () => out };
  },
  $stdDevPop: () => stdDev(false),
  $stdDevSamp: () => stdDev(true)
};

/** `$min`/`$max` ignore null and missing; all-null groups give null. */
function extreme(sign: 1 | -1): AccumulatorState {
  let best: BValue | undefined;
  let has = false;
  return {
    add: v => {
      if (isNullish(v)) return;
      if (!has || compareValues(v as BValue, best as BValue) * sign > 0) {
        best = v as BValue;
        has = true;
      }
    },
    result: () => (has ? (best as BValue) : null)
  };
}

/** Welford's online variance over numeric inputs (non-numbers ignored), as mongod computes it. */
function stdDev(sample: boolean): AccumulatorState {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  return {
    add: v => {
      if (!isNum(v)) return;
      const x = asDouble(v);
      n++;
      const delta = x - mean;
      mean += delta / n;
      m2 += delta * (x - mean);
    },
    result: () => {
      const count = sample ? n - 1 : n;
      if (count <= 0) return null;
      return new Double(Math.sqrt(m2 / count));
    }
  };
}

const NOT_IMPLEMENTED_ACCUMULATORS = new Set([
  '$accumulator',
  '$top',
  '$topN',
  '$bottom',
  '$bottomN',
  '$firstN',
  '$lastN',
  '$maxN',
  '$minN',
  '$median',
  '$percentile'
]);

/** Parses `{$op: expr}` for output field `field` of a `$group`-like stage. */
export function compileAccumulator(field: string, spec: BValue, p: Parser): CompiledAccumulator {
  if (!isDoc(spec))
    throw new ServerError(40234, `The field '${field}' must be an accumulator object`);
  if (spec.size !== 1)
    throw new ServerError(40238, `The field '${field}' must specify one accumulator`);
  const [op, arg] = spec.entries().next().value as [string, BValue];
  if (op === '$count') {
    if (!isDoc(arg) || arg.size !== 0) {
      throw new ServerError(5424101, '$count takes no arguments, i.e. $count:{}');
    }
    return { arg: () => new Int32(1), create: FACTORIES.$sum! };
  }
  const factory = FACTORIES[op];
  if (!factory) {
    if (NOT_IMPLEMENTED_ACCUMULATORS.has(op)) {
      throw new ServerError(
        238,
        `accumulator ${op} is not supported by the mongo-replicate test server`
      );
    }
    throw new ServerError(15952, `unknown group operator '${op}'`);
  }
  if (Array.isArray(arg)) {
    throw new ServerError(40237, `The ${op} accumulator is a unary operator`);
  }
  return { arg: p.compile(arg), create: factory };
}
