/** Array operators. */
import { Int32 } from 'bson';

import { type BValue, isDoc, isTruthy, valuesEqual } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import {
  argList,
  type Compiled,
  exactArgs,
  isNullish,
  MISSING,
  type OperatorParser,
  rangeArgs,
  type Scope,
  validateVariableName,
  type Value
} from './expr-core.js';
import { debugString, typeName } from './format.js';
import { asDouble, isNum } from './numeric.js';

/** An integral argument that must fit in 32 bits (mongod's `$arrayElemAt`/`$slice`/`$range`). */
function int32Arg(
  v: Value,
  typeCode: number,
  typeMsg: string,
  rangeCode: number,
  rangeMsg: string
): number {
  if (!isNum(v)) throw new ServerError(typeCode, `${typeMsg}${typeName(v)}`);
  const n = asDouble(v);
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    throw new ServerError(rangeCode, `${rangeMsg}${debugString(v)}`);
  }
  return n;
}

function bind(s: Scope, name: string, v: BValue): Scope {
  const vars = new Map(s.vars);
  vars.set(name, v);
  return { ...s, vars };
}

const size: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => {
    const v = a(s);
    if (!Array.isArray(v)) {
      throw new ServerError(
        17124,
        `The argument to $size must be an array. Type of argument is ${typeName(v)}`
      );
    }
    return new Int32(v.length);
  };
};

const arrayElemAt: OperatorParser = (arg, p, name) => {
  const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
  return s => {
    const arr = a(s);
    const idx = b(s);
    if (isNullish(arr) || isNullish(idx)) return null;
    if (!Array.isArray(arr)) {
      throw new ServerError(
        28689,
        `$arrayElemAt's first argument must be an array, but is ${typeName(arr)}`
      );
    }
    const i = int32Arg(
      idx,
      28690,
      "$arrayElemAt's second argument must be a numeric value, but is ",
      28691,
      "$arrayElemAt's second argument must be representable as a 32-bit integer: "
    );
    const at = i < 0 ? arr.length + i : i;
    return at >= 0 && at < arr.length ? arr[at]! : MISSING;
  };
};

function firstOrLast(last: boolean): OperatorParser {
  return (arg, p, name) => {
    const [a] = exactArgs(name, arg, 1, p) as [Compiled];
    return s => {
      const v = a(s);
      if (isNullish(v)) return null;
      if (!Array.isArray(v)) {
        throw new ServerError(28689, `${name}'s argument must be an array, but is ${typeName(v)}`);
      }
      if (v.length === 0) return MISSING;
      return last ? v[v.length - 1]! : v[0]!;
    };
  };
}

const concatArrays: OperatorParser = (arg, p) => {
  const args = argList(arg).map(a => p.compile(a));
  return s => {
    const out: BValue[] = [];
    for (const c of args) {
      const v = c(s);
      if (isNullish(v)) return null;
      if (!Array.isArray(v))
        throw new ServerError(28664, `$concatArrays only supports arrays, not ${typeName(v)}`);
      out.push(...v);
    }
    return out;
  };
};

/** Parses `{input, as, <body>}` style arguments shared by `$filter` and `$map`. */
function iterationArgs(
  name: string,
  arg: BValue,
  body: string,
  extra: string[],
  p: Parameters<OperatorParser>[1]
) {
  if (!isDoc(arg))
    throw new ServerError(
      name === '$map' ? 16878 : 28646,
      `${name} only supports an object as its argument`
    );
  for (const key of arg.keys()) {
    if (key !== 'input' && key !== 'as' && key !== body && !extra.includes(key)) {
      throw new ServerError(
        name === '$map' ? 16879 : 28647,
        `Unrecognized parameter to ${name}: ${key}`
      );
    }
  }
  if (!arg.has('input'))
    throw new ServerError(name === '$map' ? 16880 : 28648, `Missing 'input' parameter to ${name}`);
  if (!arg.has(body))
    throw new ServerError(
      name === '$map' ? 16882 : 28650,
      `Missing '${body}' parameter to ${name}`
    );
  const as = arg.get('as') ?? 'this';
  if (typeof as !== 'string') throw new ServerError(16866, 'empty variable names are not allowed');
  validateVariableName(as);
  return {
    input: p.compile(arg.get('input')!),
    as,
    body: p.withVars([as]).compile(arg.get(body)!),
    arg
  };
}

const filter: OperatorParser = (arg, p, name) => {
  const { input, as, body, arg: spec } = iterationArgs(name, arg, 'cond', ['limit'], p);
  const limit = spec.has('limit') ? p.compile(spec.get('limit')!) : undefined;
  return s => {
    const v = input(s);
    if (isNullish(v)) return null;
    if (!Array.isArray(v))
      throw new ServerError(28651, `input to $filter must be an array not ${typeName(v)}`);
    let max = Infinity;
    if (limit) {
      const l = limit(s);
      if (!isNullish(l)) {
        if (!isNum(l) || !Number.isInteger(asDouble(l))) {
          throw new ServerError(
            327391,
            `$filter: limit must be represented as a 32-bit integral value: ${debugString(l)}`
          );
        }
        max = asDouble(l);
        if (max < 1) throw new ServerError(327392, `$filter: limit must be greater than 0: ${max}`);
      }
    }
    const out: BValue[] = [];
    for (const item of v) {
      if (out.length >= max) break;
      const keep = body(bind(s, as, item));
      if (keep !== MISSING && isTruthy(keep)) out.push(item);
    }
    return out;
  };
};

const map: OperatorParser = (arg, p, name) => {
  const { input, as, body } = iterationArgs(name, arg, 'in', [], p);
  return s => {
    const v = input(s);
    if (isNullish(v)) return null;
    if (!Array.isArray(v))
      throw new ServerError(16883, `input to $map must be an array not ${typeName(v)}`);
    return v.map(item => {
      const r = body(bind(s, as, item));
      return r === MISSING ? null : r;
    });
  };
};

const reduce: OperatorParser = (arg, p) => {
  if (!isDoc(arg))
    throw new ServerError(
      40075,
      `$reduce requires an object as an argument, found: ${typeName(arg)}`
    );
  for (const key of arg.keys()) {
    if (!['input', 'initialValue', 'in'].includes(key)) {
      throw new ServerError(40076, `$reduce found an unknown argument: ${key}`);
    }
  }
  if (!arg.has('input')) throw new ServerError(40077, "$reduce requires 'input' to be specified");
  if (!arg.has('initialValue'))
    throw new ServerError(40078, "$reduce requires 'initialValue' to be specified");
  if (!arg.has('in')) throw new ServerError(40079, "$reduce requires 'in' to be specified");
  const input = p.compile(arg.get('input')!);
  const init = p.compile(arg.get('initialValue')!);
  const body = p.withVars(['this', 'value']).compile(arg.get('in')!);
  return s => {
    const v = input(s);
    if (isNullish(v)) return null;
    if (!Array.isArray(v))
      throw new ServerError(
        40080,
        `$reduce requires that 'input' be an array, found: ${debugString(v)}`
      );
    let acc = init(s);
    for (const item of v) {
      const vars = new Map(s.vars);
      vars.set('this', item);
      if (acc === MISSING) vars.delete('value');
      else vars.set('value', acc);
      acc = body({ ...s, vars });
    }
    return acc;
  };
};

const inOp: OperatorParser = (arg, p, name) => {
  const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
  return s => {
    const v = a(s);
    const arr = b(s);
    if (!Array.isArray(arr))
      throw new ServerError(
        40081,
        `$in requires an array as a second argument, found: ${typeName(arr)}`
      );
    const needle = v === MISSING ? null : v;
    // MISSING never equals anything, not even null.
    return v !== MISSING && arr.some(x => valuesEqual(x, needle));
  };
};

const slice: OperatorParser = (arg, p, name) => {
  const args = rangeArgs(name, arg, 2, 3, p);
  return s => {
    const arr = args[0]!(s);
    const second = args[1]!(s);
    const third = args[2] ? args[2](s) : undefined;
    if (isNullish(arr) || isNullish(second) || (args[2] && isNullish(third as Value))) return null;
    if (!Array.isArray(arr)) {
      throw new ServerError(
        28724,
        `First argument to $slice must be an array, but is of type: ${typeName(arr)}`
      );
    }
    const n = int32Arg(
      second,
      28725,
      'Second argument to $slice must be a numeric value, but is of type: ',
      28726,
      'Second argument to $slice must be representable as a 32-bit integer: '
    );
    if (!args[2]) {
      return n >= 0 ? arr.slice(0, n) : arr.slice(Math.max(0, arr.length + n));
    }
    const count = int32Arg(
      third as Value,
      28727,
      'Third argument to $slice must be numeric, but is of type: ',
      28728,
      'Third argument to $slice must be representable as a 32-bit integer: '
    );
    if (count <= 0)
      throw new ServerError(28729, `Third argument to $slice must be positive: ${count}`);
    const start = n >= 0 ? Math.min(n, arr.length) : Math.max(0, arr.length + n);
    return arr.slice(start, start + count);
  };
};

const isArray: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => Array.isArray(a(s));
};

const reverseArray: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => {
    const v = a(s);
    if (isNullish(v)) return null;
    if (!Array.isArray(v)) {
      throw new ServerError(
        34435,
        `The argument to $reverseArray must be an array, but was of type: ${typeName(v)}`
      );
    }
    return [...v].reverse();
  };
};

const range: OperatorParser = (arg, p, name) => {
  const args = rangeArgs(name, arg, 2, 3, p);
  return s => {
    const start = rangeInt(args[0]!(s), 'starting value', 34443, 34444);
    const end = rangeInt(args[1]!(s), 'ending value', 34445, 34446);
    const step = args[2] ? rangeInt(args[2](s), 'step value', 34447, 34448) : 1;
    if (step === 0) throw new ServerError(34449, '$range requires a non-zero step value');
    const out: BValue[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) out.push(new Int32(i));
    return out;
  };
};

function rangeInt(v: Value, what: string, typeCode: number, intCode: number): number {
  if (!isNum(v))
    throw new ServerError(
      typeCode,
      `$range requires a numeric ${what}, found value of type: ${typeName(v)}`
    );
  const n = asDouble(v);
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
    throw new ServerError(
      intCode,
      `$range requires a ${what} that can be represented as a 32-bit integer, found value: ${debugString(v)}`
    );
  }
  return n;
}

const indexOfArray: OperatorParser = (arg, p, name) => {
  const args = rangeArgs(name, arg, 2, 4, p);
  return s => {
    const arr = args[0]!(s);
    if (isNullish(arr)) return null;
    if (!Array.isArray(arr))
      throw new ServerError(
        40090,
        `$indexOfArray requires an array as a first argument, found: ${typeName(arr)}`
      );
    const needle = args[1]!(s);
    const start = args[2] ? arrayIndex(args[2](s), 'starting') : 0;
    const end = args[3] ? Math.min(arrayIndex(args[3](s), 'ending'), arr.length) : arr.length;
    if (needle === MISSING) return new Int32(-1);
    for (let i = start; i < end; i++) if (valuesEqual(arr[i]!, needle)) return new Int32(i);
    return new Int32(-1);
  };
};

function arrayIndex(v: Value, which: string): number {
  if (!isNum(v) || !Number.isInteger(asDouble(v))) {
    throw new ServerError(
      40096,
      `$indexOfArray requires an integral ${which} index, found a value of type: ${typeName(v)}, with value: ${debugString(v)}`
    );
  }
  const n = asDouble(v);
  if (n < 0)
    throw new ServerError(
      40097,
      `$indexOfArray requires a nonnegative ${which} index, found: ${n}`
    );
  return n;
}

export const ARRAY_OPERATORS: Record<string, OperatorParser> = {
  $size: size,
  $arrayElemAt: arrayElemAt,
  $first: firstOrLast(false),
  $last: firstOrLast(true),
  $concatArrays: concatArrays,
  $filter: filter,
  $map: map,
  $reduce: reduce,
  $in: inOp,
  $slice: slice,
  $isArray: isArray,
  $reverseArray: reverseArray,
  $range: range,
  $indexOfArray: indexOfArray
};
