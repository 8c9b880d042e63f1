/** String operators. mongod works on UTF-8 bytes and only case-maps ASCII. */
import { BSONSymbol, Code, Decimal128, Double, Int32, Long, Timestamp } from 'bson';

import { compareStrings } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import {
  argList,
  type Compiled,
  exactArgs,
  isNullish,
  MISSING,
  type OperatorParser,
  rangeArgs,
  type Value
} from './expr-core.js';
import { debugString, formatDoubleG, typeName } from './format.js';
import { asDouble, isNum } from './numeric.js';

/** Value::coerceToString, used by `$substr*`, `$toLower`, `$toUpper` and `$strcasecmp`. */
export function coerceToString(v: Value): string {
  if (v === MISSING || v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Double) return formatDoubleG(v.value);
  if (v instanceof Int32 || v instanceof Long || v instanceof Decimal128) return v.toString();
  if (v instanceof BSONSymbol) return v.valueOf();
  if (v instanceof Code) return String(v.code);
  if (v instanceof Date) return isoDate(v);
  if (v instanceof Timestamp) return `Timestamp(${v.t}, ${v.i})`;
  throw new ServerError(16007, `can't convert from BSON type ${typeName(v)} to String`);
}

/** `%Y-%m-%dT%H:%M:%S.%LZ`, the format mongod renders dates in. */
export function isoDate(d: Date): string {
  const ms = d.getTime();
  if (Number.isNaN(ms))
    throw new ServerError(
      18537,
      'Could not convert date to string: date component was outside the supported range of 0-9999'
    );
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw new ServerError(
      18537,
      `Could not convert date to string: date component was outside the supported range of 0-9999: ${year}`
    );
  }
  return d.toISOString();
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

function requireString(name: string, v: Value, code: number, what: string): string {
  if (typeof v !== 'string')
    throw new ServerError(code, `${name} requires ${what}, found: ${typeName(v)}`);
  return v;
}

const concat: OperatorParser = (arg, p) => {
  const args = argList(arg).map(a => p.compile(a));
  return s => {
    let out = '';
    for (const c of args) {
      const v = c(s);
      if (isNullish(v)) return null;
      if (typeof v !== 'string')
        throw new ServerError(16702, `$concat only supports strings, not ${typeName(v)}`);
      out += v;
    }
    return out;
  };
};

function intArg(name: string, v: Value, code: number, what: string): number {
  if (!isNum(v)) {
    throw new ServerError(
      code,
      `${name}: ${what} must be a numeric type (is BSON type ${typeName(v)})`
    );
  }
  return Math.trunc(asDouble(v));
}

const substrBytes: OperatorParser = (arg, p, name) => {
  const [a, b, c] = exactArgs(name, arg, 3, p) as [Compiled, Compiled, Compiled];
  return s => {
    const bytes = utf8.encode(coerceToString(a(s)));
    const startV = b(s);
    const lenV = c(s);
    const start = intArg(name, startV, 16034, 'starting index');
    const length = intArg(name, lenV, 16035, 'length');
    // mongod reads both as unsigned: a negative start is past the end, a negative length is "to the end".
    if (start < 0 || start >= bytes.length) return '';
    const end = length < 0 ? bytes.length : Math.min(bytes.length, start + length);
    if (isContinuation(bytes[start])) {
      throw new ServerError(
        28656,
        `${name}:  Invalid range, starting index is a UTF-8 continuation byte.`
      );
    }
    if (end < bytes.length && isContinuation(bytes[end])) {
      throw new ServerError(
        28657,
        `${name}:  Invalid range, ending index is in the middle of a UTF-8 character.`
      );
    }
    return utf8Decoder.decode(bytes.subarray(start, end));
  };
};

function isContinuation(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

const substrCP: OperatorParser = (arg, p, name) => {
  const [a, b, c] = exactArgs(name, arg, 3, p) as [Compiled, Compiled, Compiled];
  return s => {
    const cps = [...coerceToString(a(s))];
    const startV = b(s);
    const lenV = c(s);
    if (!isNum(startV))
      throw new ServerError(
        34450,
        `${name}: starting index must be a numeric type (is BSON type ${typeName(startV)})`
      );
    if (!isNum(lenV))
      throw new ServerError(
        34452,
        `${name}: length must be a numeric type (is BSON type ${typeName(lenV)})`
      );
    const start = asDouble(startV);
    const length = asDouble(lenV);
    if (!Number.isInteger(start))
      throw new ServerError(
        34451,
        `${name}: starting index cannot be represented as a 32-bit integral value: ${debugString(startV)}`
      );
    if (!Number.isInteger(length))
      throw new ServerError(
        34453,
        `${name}: length cannot be represented as a 32-bit integral value: ${debugString(lenV)}`
      );
    if (start < 0)
      throw new ServerError(34455, `${name}: the starting index must be nonnegative integer.`);
    if (length < 0) throw new ServerError(34454, `${name}: length must be a nonnegative integer.`);
    return cps.slice(start, start + length).join('');
  };
};

/** mongod's toLower/toUpper change ASCII letters only. */
function asciiCase(upper: boolean): OperatorParser {
  return (arg, p, name) => {
    const [a] = exactArgs(name, arg, 1, p) as [Compiled];
    const re = upper ? /[a-z]+/g : /[A-Z]+/g;
    return s => coerceToString(a(s)).replace(re, m => (upper ? m.toUpperCase() : m.toLowerCase()));
  };
}

const strLenCP: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => {
    const v = a(s);
    if (typeof v !== 'string')
      throw new ServerError(34471, `$strLenCP requires a string argument, found: ${typeName(v)}`);
    return new Int32([...v].length);
  };
};

const split: OperatorParser = (arg, p, name) => {
  const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
  return s => {
    const v = a(s);
    const d = b(s);
    if (isNullish(v) || isNullish(d)) return null;
    if (typeof v !== 'string') {
      throw new ServerError(
        40085,
        `$split requires an expression that evaluates to a string as a first argument, found: ${typeName(v)}`
      );
    }
    if (typeof d !== 'string') {
      throw new ServerError(
        40086,
        `$split requires an expression that evaluates to a string as a second argument, found: ${typeName(d)}`
      );
    }
    if (d.length === 0) throw new ServerError(40087, '$split requires a non-empty separator');
    return v.split(d);
  };
};

/** mongod's default $trim set: NUL, ASCII whitespace and the Unicode space separators. */
const DEFAULT_TRIM = [
  '\0',
  ' ',
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  '\u00a0',
  '\u1680',
  '\u2000',
  '\u2001',
  '\u2002',
  '\u2003',
  '\u2004',
  '\u2005',
  '\u2006',
  '\u2007',
  '\u2008',
  '\u2009',
  '\u200a',
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000'
];

function trim(left: boolean, right: boolean): OperatorParser {
  return (arg, p, name) => {
    if (!(arg instanceof Map))
      throw new ServerError(
        50696,
        `${name} only supports an object as an argument, found: ${typeName(arg)}`
      );
    let input: Compiled | undefined;
    let chars: Compiled | undefined;
    for (const [k, v] of arg) {
      if (k === 'input') input = p.compile(v);
      else if (k === 'chars') chars = p.compile(v);
      else throw new ServerError(50694, `${name} found an unknown argument: ${k}`);
    }
    if (!input) throw new ServerError(50695, `${name} requires an 'input' field`);
    const inp = input;
    return s => {
      const v = inp(s);
      if (isNullish(v)) return null;
      if (typeof v !== 'string') {
        throw new ServerError(
          50699,
          `${name} requires its input to be a string, got ${debugString(v)} (of type ${typeName(v)}) instead.`
        );
      }
      let set = DEFAULT_TRIM;
      if (chars) {
        const c = chars(s);
        if (isNullish(c)) return null;
        if (typeof c !== 'string') {
          throw new ServerError(
            50700,
            `${name} requires 'chars' to be a string, got ${debugString(c)} (of type ${typeName(c)}) instead.`
          );
        }
        set = [...c];
      }
      const cps = [...v];
      let i = 0;
      let j = cps.length;
      if (left) while (i < j && set.includes(cps[i]!)) i++;
      if (right) while (j > i && set.includes(cps[j - 1]!)) j--;
      return cps.slice(i, j).join('');
    };
  };
}

const indexOfCP: OperatorParser = (arg, p, name) => {
  const args = rangeArgs(name, arg, 2, 4, p);
  return s => {
    const v = args[0]!(s);
    if (isNullish(v)) return null;
    const str = requireString(name, v, 40093, 'a string as the first argument');
    const sub = requireString(name, args[1]!(s), 40094, 'a string as the second argument');
    const cps = [...str];
    const subCps = [...sub];
    const start = args[2] ? index(name, args[2](s), 'starting') : 0;
    const end = args[3] ? Math.min(index(name, args[3](s), 'ending'), cps.length) : cps.length;
    for (let i = start; i + subCps.length <= end; i++) {
      if (subCps.every((c, k) => cps[i + k] === c)) return new Int32(i);
    }
    return new Int32(-1);
  };
};

function index(name: string, v: Value, which: string): number {
  if (!isNum(v) || !Number.isInteger(asDouble(v))) {
    throw new ServerError(
      40096,
      `${name} requires an integral ${which} index, found a value of type: ${typeName(v)}, with value: ${debugString(v)}`
    );
  }
  const n = asDouble(v);
  if (n < 0)
    throw new ServerError(40097, `${name} requires a nonnegative ${which} index, found: ${n}`);
  return n;
}

const strcasecmp: OperatorParser = (arg, p, name) => {
  const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
  const upper = (x: string) => x.replace(/[a-z]+/g, m => m.toUpperCase());
  return s =>
    new Int32(Math.sign(compareStrings(upper(coerceToString(a(s))), upper(coerceToString(b(s))))));
};

export const STRING_OPERATORS: Record<string, OperatorParser> = {
  $concat: concat,
  $substr: substrBytes,
  $substrBytes: substrBytes,
  $substrCP: substrCP,
  $toLower: asciiCase(false),
  $toUpper: asciiCase(true),
  $strLenCP: strLenCP,
  $split: split,
  $trim: trim(true, true),
  $ltrim: trim(true, false),
  $rtrim: trim(false, true),
  $indexOfCP: indexOfCP,
  $strcasecmp: strcasecmp
};
